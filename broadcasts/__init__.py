"""Announcements to hamlets: campaigns, approval, scheduling, fan-out and tracking."""
