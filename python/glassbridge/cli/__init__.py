"""glassbridge.cli"""
