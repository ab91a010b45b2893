"""Mesa agents that take decisions: the bank and merchants (typologies add fraudsters)."""

from fraudsim.agents.bank import Bank
from fraudsim.agents.merchant import Merchant, MerchantAgents

__all__ = ["Bank", "Merchant", "MerchantAgents"]
