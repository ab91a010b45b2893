"""Domain codes: the closed vocabularies of channels, transaction types, roles, decline
reasons, event types and entity kinds. Internal columns store a position in these tuples."""

CHANNELS = (
    "pos",
    "cnp",
    "atm",
    "online_banking",
    "direct_debit",
    "standing_order",
    "incoming",
    "branch",
)
TX_TYPES = (
    "purchase",
    "atm_withdrawal",
    "p2p_transfer",
    "bill_payment",
    "rent",
    "salary",
    "pension",
    "savings_transfer",
    "card_repayment",
    "refund",
    "cash_deposit",
)
DIRECTIONS = ("debit", "credit")
DECLINE_REASONS = (
    "none",
    "insufficient_funds",
    "card_blocked",
    "account_frozen",
    "rule",
    "step_up_failed",
)
EVENT_TYPES = (
    "login",
    "device_change",
    "password_reset",
    "phone_change",
    "new_payee",
    "address_change",
)
ROLES = ("none", "victim", "mule", "fraudster")
SEGMENTS = ("employed", "student", "retired")
INCOME_BANDS = ("low", "lower_middle", "upper_middle", "high")
ACCOUNT_KINDS = ("checking", "savings", "credit")
CARD_KINDS = ("debit", "credit")
CARD_PRODUCTS = ("classic", "junior", "gold")

# Channels and types whose rows are internal transfers (credit the counterparty account).
INTERNAL_TRANSFER_TYPES = ("p2p_transfer", "savings_transfer", "card_repayment")
