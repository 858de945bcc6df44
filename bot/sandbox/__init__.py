"""The local Zalo platform: the one fake of Zalo, shared by the demo and the tests."""
