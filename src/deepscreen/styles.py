"""How each verdict looks, named once (as rich names its styles in ``default_styles.py``):
the terminal table, the HTML report and the review UI all take their colours from here."""

from __future__ import annotations

from dataclasses import dataclass

from .policy import ACTIONS, Action, is_action


@dataclass(frozen=True)
class VerdictStyle:
    terminal: str  # a rich style
    colour: str  # CSS colour of the badge (white text on it)


VERDICT_STYLES: dict[Action, VerdictStyle] = {
    "allow": VerdictStyle(terminal="green", colour="#1b7f3b"),
    "label": VerdictStyle(terminal="yellow", colour="#9a6700"),
    "quarantine": VerdictStyle(terminal="bold magenta", colour="#8e3bbf"),
    "block": VerdictStyle(terminal="bold red", colour="#c62828"),
}
UNKNOWN_COLOUR = "#555555"  # a verdict this version does not know (a newer stored report)
FLAGGED_COLOUR = VERDICT_STYLES["block"].colour  # a score over its threshold, a flagged face


def verdict_colour(action: str) -> str:
    return VERDICT_STYLES[action].colour if is_action(action) else UNKNOWN_COLOUR


def badge_css() -> str:
    """CSS classes ``.badge.<action>`` for pages that style badges by class."""
    return " ".join(f".badge.{action}{{background:{VERDICT_STYLES[action].colour}}}"
                    for action in ACTIONS)
