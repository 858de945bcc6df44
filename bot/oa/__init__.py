"""Our side of Zalo: the client as this service builds it, the token store, the OAuth routes."""
