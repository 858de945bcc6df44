"""What Zalo sends us: the webhook, events, the durable inbox, its processor and dispatch."""
