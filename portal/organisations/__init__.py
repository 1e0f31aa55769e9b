"""Districts (stadsdelen), areas, organisations and school locations."""
