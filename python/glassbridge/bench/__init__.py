"""glassbridge.bench"""
