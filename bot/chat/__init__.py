"""The residents' conversation: answers from the FAQ, hand-over to a person, receipts."""
