"""What we send: the outbox, its channels, reply templates, staff notices and alerts."""
