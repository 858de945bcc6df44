"""Loa Ấp: the service behind a commune's Zalo Official Account."""
