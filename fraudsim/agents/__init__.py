"""Mesa agents for entities that take decisions: the bank and merchants (fraudsters in typologies)."""

from fraudsim.agents.bank import Bank
from fraudsim.agents.merchant import Merchant

__all__ = ["Bank", "Merchant"]
