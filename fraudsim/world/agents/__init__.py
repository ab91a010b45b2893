"""Mesa agents that take decisions: the bank and merchants (typologies add fraudsters)."""

from fraudsim.world.agents.bank import Bank
from fraudsim.world.agents.merchant import Merchant, MerchantAgents

__all__ = ["Bank", "Merchant", "MerchantAgents"]
