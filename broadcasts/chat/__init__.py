"""The announcements' Zalo chat handlers, installed in the order they run."""

from __future__ import annotations

from functools import partial

from bot.inbound.dispatch import Dispatcher
from bot.inbound.events import GroupMembership, GroupText, UserText
from broadcasts.campaigns import Deps
from broadcasts.chat import approvals, membership, offline, posting, privacy, reach, verify


def install(dispatcher: Dispatcher, deps: Deps) -> None:
    """The announcements' handlers, in the order they run; installed before the residents' chat.

    A head asking for the offline list, then a head's answer to an approval, then the privacy and
    code-check words: all before the FAQ reads the message. In groups, an official's post in the
    commune group, then heads answering there, then replies counted as reach.
    """
    dispatcher.add(UserText, offline.on_list_request)
    dispatcher.add(UserText, approvals.on_staff_text)
    dispatcher.add(UserText, privacy.on_text)
    dispatcher.add(UserText, verify.on_text)
    dispatcher.add(GroupText, partial(posting.on_commune_post, deps=deps))
    dispatcher.add(GroupText, approvals.on_group_text)
    dispatcher.add(GroupText, reach.on_group_reply)
    dispatcher.add(GroupMembership, membership.on_membership)
