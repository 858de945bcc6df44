"""How the residents' chat plugs into the service: its handlers, in the order they run."""

from __future__ import annotations

from functools import partial

from bot.chat import conversation
from bot.chat.faq.book import FaqBook
from bot.inbound.dispatch import Dispatcher
from bot.inbound.events import (
    Follow,
    GroupText,
    MessageReceived,
    MessagesSeen,
    OAEcho,
    Unfollow,
    UserMedia,
    UserText,
)


def install_handlers(dispatcher: Dispatcher, faq: FaqBook) -> None:
    """The residents' handlers, after any feature that must see a message first."""
    dispatcher.add(UserText, partial(conversation.on_text, faq=faq))
    dispatcher.add(UserMedia, conversation.on_media)
    dispatcher.add(Follow, conversation.on_follow)
    dispatcher.add(Unfollow, conversation.on_unfollow)
    dispatcher.add(MessageReceived, conversation.on_received)
    dispatcher.add(MessagesSeen, conversation.on_seen)
    dispatcher.add(OAEcho, conversation.on_echo)
    dispatcher.add(GroupText, conversation.on_group_text)
