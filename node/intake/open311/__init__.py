"""The Open311 GeoReport v2 channel: client apps and web forms submit and follow requests."""
