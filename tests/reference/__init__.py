"""Independent references (float64 numpy, written from the specs) that tests compare the product against."""
