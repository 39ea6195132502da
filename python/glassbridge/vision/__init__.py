"""glassbridge.vision"""
