"""Prompts: conversations a client can start from a menu (Claude Desktop's "+")."""

from mcp.server.mcpserver.prompts import Prompt


def plan_my_day() -> str:
    """Review what is overdue and due today, and propose an order for the day."""
    return (
        "Plan my day. Use find_tasks for what is overdue (overdue = true) and "
        "for what is due today (due_after = due_before = today), then propose an order "
        "with the important and overdue first. Suggest moving what will not fit, but "
        "change nothing until I say yes."
    )


PROMPTS = (Prompt.from_function(plan_my_day, title="Plan my day"),)

__all__ = ["PROMPTS"]
