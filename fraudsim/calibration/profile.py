"""Profile: the calibration targets a world is drawn from, loaded from sourced TOML."""

from __future__ import annotations

import math
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from fraudsim.core.codes import CHANNELS, TX_TYPES
from fraudsim.core.errors import ConfigError, format_validation_error
from fraudsim.core.tomlfile import read_toml

Share = Annotated[float, Field(ge=0.0, le=1.0)]
Positive = Annotated[float, Field(gt=0.0)]
NonNegative = Annotated[float, Field(ge=0.0)]
CHANNEL_HOURS = ("pos", "cnp", "atm", "online_banking")  # channels with their own hour shape


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _normalised(weights: list[float], field: str) -> list[float]:
    total = sum(weights)
    if total <= 0 or any(w < 0 for w in weights):
        raise ValueError(f"{field} must be non-negative with a positive sum")
    return [w / total for w in weights]


class PopulationTargets(_Section):
    """Who the customers are."""

    age_bands: list[str]
    age_band_bounds: list[tuple[int, int]]
    age_band_shares: list[NonNegative]
    female_share: Share
    annual_income_median: Positive
    annual_income_sigma: Positive
    income_age_peak: Positive
    retirement_age: int = Field(ge=50, le=90)
    pension_ratio: Share
    student_share_under_25: Share
    credit_card_share_by_income_band: list[Share] = Field(min_length=4, max_length=4)
    savings_account_share: Share
    devices_per_customer_mean: Annotated[float, Field(ge=1.0)]
    regions: int = Field(ge=1, le=500)
    region_size_decay: Share
    # Households (see world/households.py): adults per household, thinned to the bank's
    # customers; couples, adult children, shared homes, surnames, phones and devices.
    household_adults_shares: list[NonNegative] = Field(min_length=1)  # 1, 2, 3, ... adults
    household_same_bank_share: Share  # an adult housemate banks here too
    couple_age_gap_sd: Annotated[float, Field(ge=0.0, le=30.0)]  # years
    adult_child_max_age: int = Field(ge=18, le=60)
    parent_child_age_gap: Annotated[float, Field(ge=15.0, le=50.0)]  # years
    couple_shared_surname_share: Share
    child_shared_surname_share: Share
    household_shared_phone_share: Share  # couples giving one phone number
    shared_device_household_share: Share  # households paying on one shared tablet/laptop
    shared_device_session_share: Annotated[float, Field(ge=0.0, lt=1.0)]
    phone_handdown_share: Share  # a replaced phone goes to a housemate
    phone_handdown_median_days: Positive

    @model_validator(mode="after")
    def _bands_agree(self) -> PopulationTargets:
        n = len(self.age_bands)
        if not (len(self.age_band_bounds) == len(self.age_band_shares) == n):
            raise ValueError("age_bands, age_band_bounds and age_band_shares need equal lengths")
        _normalised(self.age_band_shares, "age_band_shares")
        _normalised(self.household_adults_shares, "household_adults_shares")
        return self


class MerchantTargets(_Section):
    """How many merchants there are and how they are shaped."""

    merchants_per_1000_customers: Positive
    online_share: Share
    size_sigma: Positive
    terminals_mean: Annotated[float, Field(ge=1.0)]


class Category(_Section):
    """One merchant category: its MCC, its share of each channel and its ticket size."""

    name: str
    mcc: int = Field(ge=0, le=9999)
    pos_share: NonNegative
    cnp_share: NonNegative
    ticket_multiplier: Positive
    # Sessions: several purchases at the merchant within minutes (a marketplace basket split
    # into charges, in-app purchases, transit taps); extras per session are geometric.
    session_share: Share = 0.0
    session_extra_mean: Annotated[float, Field(ge=1.0)] = 1.0
    session_gap_minutes: Positive = 2.0
    # Share of tickets that are one shelf price (ending .99, .50 ...) rather than a basket sum.
    price_point_share: Share = 0.0


class CardTargets(_Section):
    """Card purchase activity and ticket sizes."""

    purchases_per_card_month: Positive
    purchases_gamma_shape: Positive
    cnp_share: Share
    cnp_propensity_concentration: Positive
    favourite_share: Share
    favourites_pos: int = Field(ge=1, le=50)
    favourites_cnp: int = Field(ge=1, le=50)
    ticket_median_pos: Positive
    ticket_median_cnp: Positive
    ticket_sigma: Positive
    income_elasticity: NonNegative
    refund_share: Share
    day_rate_gamma_shape: Positive  # day-to-day spread of a card's purchase rate (gamma, mean 1)
    outing_share: Share  # in-store purchases made on one outing with the card's others that day
    outing_gap_minutes: Positive  # median minutes between the purchases of an outing
    session_gap_sigma: Positive  # log sd of the gaps inside sessions and outings
    session_span_max_hours: Positive  # a longer session or outing is squeezed into this
    price_ending_cents: list[Annotated[int, Field(ge=0, le=99)]] = Field(min_length=1)
    price_ending_weights: list[NonNegative] = Field(min_length=1)
    categories: list[Category] = Field(min_length=1)

    @model_validator(mode="after")
    def _channels_covered(self) -> CardTargets:
        _normalised([c.pos_share for c in self.categories], "categories.pos_share")
        _normalised([c.cnp_share for c in self.categories], "categories.cnp_share")
        if len(self.price_ending_cents) != len(self.price_ending_weights):
            raise ValueError("price_ending_cents and price_ending_weights need equal lengths")
        _normalised(self.price_ending_weights, "price_ending_weights")
        return self


class AtmTargets(_Section):
    """Cash withdrawals."""

    withdrawals_per_debit_card_month: NonNegative
    amount_median: Positive
    amount_sigma: Positive
    amount_step: Positive
    cash_advances_per_credit_card_month: NonNegative


class TransferTargets(_Section):
    """Account-to-account money movements."""

    p2p_per_customer_month: NonNegative
    incoming_p2p_per_customer_month: NonNegative
    p2p_external_share: Share
    cash_deposits_per_customer_month: NonNegative
    savings_withdrawals_per_saver_month: NonNegative
    cash_deposit_median: Positive
    cash_deposit_sigma: Positive
    p2p_amount_median: Positive
    p2p_amount_sigma: Positive
    bills_per_customer: int = Field(ge=0, le=20)
    bill_amount_median: Positive
    bill_amount_sigma: Positive
    rent_share_of_customers: Share
    rent_share_of_income: Share
    savings_share_of_income: Share
    card_repayment_day_max: int = Field(ge=1, le=28)
    p2p_round_share: Share  # typed as a round figure (gifts, pocket money, loans)
    p2p_whole_share: Share  # whole units, not rounded further
    p2p_round_steps: list[Positive] = Field(min_length=1)  # major units, ascending
    salary_variable_share: Share  # employees whose net pay changes month to month
    salary_variable_sigma: NonNegative  # log sd of their monthly pay around the usual
    cash_deposit_step: Positive  # major units: cash is paid in as notes

    @model_validator(mode="after")
    def _p2p_shares(self) -> TransferTargets:
        if self.p2p_round_share + self.p2p_whole_share > 1.0:
            raise ValueError("p2p_round_share + p2p_whole_share must not exceed 1")
        if self.p2p_round_steps != sorted(self.p2p_round_steps):
            raise ValueError("p2p_round_steps must be ascending")
        return self


class BalanceTargets(_Section):
    """Opening balances and limits, in months of net income."""

    checking_months_median: Positive
    checking_sigma: Positive
    savings_months_median: Positive
    overdraft_months_by_income_band: list[NonNegative] = Field(min_length=4, max_length=4)
    credit_limit_months: Positive
    credit_limit_min: Positive


class CalendarTargets(_Section):
    """When things happen: hour of day, day of week, day of month."""

    hour_weights: list[NonNegative] = Field(min_length=24, max_length=24)
    weekday_weights: list[NonNegative] = Field(min_length=7, max_length=7)
    payday_weights: list[NonNegative] = Field(min_length=31, max_length=31)
    bill_day_weights: list[NonNegative] = Field(min_length=31, max_length=31)
    payday_boost: NonNegative
    payday_boost_days: int = Field(ge=0, le=28)
    # Per-channel hours (empty: `hour_weights`, the all-card target, is used).
    hour_weights_pos: list[NonNegative] = Field(default_factory=list)
    hour_weights_cnp: list[NonNegative] = Field(default_factory=list)
    hour_weights_atm: list[NonNegative] = Field(default_factory=list)
    hour_weights_online_banking: list[NonNegative] = Field(default_factory=list)
    atm_night_out_boost: NonNegative  # extra ATM use on Friday and Saturday evenings

    @model_validator(mode="after")
    def _shapes(self) -> CalendarTargets:
        for name in ("hour_weights", "weekday_weights", "payday_weights", "bill_day_weights"):
            _normalised(getattr(self, name), name)
        for channel in CHANNEL_HOURS:
            weights = getattr(self, f"hour_weights_{channel}")
            if weights:
                if len(weights) != 24:
                    raise ValueError(f"hour_weights_{channel} needs 24 values or none")
                _normalised(weights, f"hour_weights_{channel}")
        return self


class FraudTargets(_Section):
    """Fraud prevalence, timing and reporting."""

    prevalence_count_share: Share
    prevalence_value_share: Share
    hour_weights: list[NonNegative] = Field(min_length=24, max_length=24)
    card_report_median_days: Positive
    account_report_median_days: Positive
    scam_report_median_days: Positive
    aml_report_median_days: Positive
    dispute_median_days: Positive
    report_delay_sigma: Positive
    max_report_days: Positive
    never_reported_share: Share
    mule_max_age: int = Field(ge=18, le=99)
    # Mule recruits' ages: brackets (youngest, oldest, inclusive) and the share of mules in each.
    mule_age_bounds: list[tuple[int, int]] = Field(min_length=1)
    mule_age_shares: list[NonNegative] = Field(min_length=1)
    # Share a mule keeps of what passes through (beta: mean and concentration a + b), and the
    # mean share a launderer's own account keeps (fees, a float).
    mule_cut_mean: Annotated[float, Field(ge=0.0, le=0.5)]
    mule_cut_concentration: Annotated[float, Field(gt=2.0, le=1000.0)]
    own_account_keep_mean: Annotated[float, Field(ge=0.0, le=0.5)]

    @model_validator(mode="after")
    def _mule_ages(self) -> FraudTargets:
        if len(self.mule_age_bounds) != len(self.mule_age_shares):
            raise ValueError("mule_age_bounds and mule_age_shares need equal lengths")
        if any(lo > hi for lo, hi in self.mule_age_bounds):
            raise ValueError("mule_age_bounds need youngest <= oldest")
        _normalised(self.mule_age_shares, "mule_age_shares")
        return self


class EventTargets(_Section):
    """Honest non-payment events per customer and month."""

    login_per_customer_month: NonNegative
    device_change_per_customer_month: NonNegative
    password_reset_per_customer_month: NonNegative
    phone_change_per_customer_month: NonNegative
    new_payee_per_customer_month: NonNegative
    address_change_per_customer_month: NonNegative


class SessionTargets(_Section):
    """How honest events sit in banking sessions (the rates stay in `EventTargets`).

    An event comes with the login of its session. App-generated pairs (a login and the device
    binding it triggers) are 0..app_step_max_seconds apart; human steps (typing, confirming)
    follow a lognormal truncated to [min, max] seconds.
    """

    app_step_max_seconds: int = Field(ge=0, le=10)
    app_step_same_second_share: Share
    binding_before_login_share: Share  # a new device's binding logged before its first login
    human_step_median_seconds: Positive
    human_step_sigma: Positive
    human_step_min_seconds: NonNegative
    human_step_max_seconds: Positive
    extra_steps_mean: NonNegative  # human steps in a session beyond the first (Poisson)
    password_reset_auto_login_share: Share  # the app signs the user in right after a reset
    payment_login_share: Share  # online-banking payments opening their own session
    prefilled_step_share: Share  # payments and new payees confirmed in the login step

    @model_validator(mode="after")
    def _step_bounds(self) -> SessionTargets:
        lo, hi, med = (
            self.human_step_min_seconds,
            self.human_step_max_seconds,
            self.human_step_median_seconds,
        )
        if not lo < med < hi:
            raise ValueError("human_step seconds need min < median < max")
        return self


class EmpiricalType(_Section):
    """One transaction type of a user's table and the export enumerations it is drawn as."""

    name: str  # the source's own type name (mapped back by (tx_type, channel, direction))
    tx_type: str
    channel: str
    direction: Literal["debit", "credit"]
    share: Share  # of source rows
    per_account_month: NonNegative
    amount_quantiles: list[NonNegative] = Field(min_length=2)  # at EmpiricalTargets.levels
    weekday_weights: list[NonNegative] = Field(min_length=7, max_length=7)
    day_of_month_weights: list[NonNegative] = Field(min_length=31, max_length=31)
    hour_weights: list[NonNegative] = Field(default_factory=list)  # empty: dates-only source
    counterparty_share: Share = 0.0
    other_bank_share: Share = 0.0

    @model_validator(mode="after")
    def _known_enumerations(self) -> EmpiricalType:
        if self.tx_type not in TX_TYPES:
            raise ValueError(f"tx_type {self.tx_type!r}; allowed: {', '.join(TX_TYPES)}")
        if self.channel not in CHANNELS:
            raise ValueError(f"channel {self.channel!r}; allowed: {', '.join(CHANNELS)}")
        if self.hour_weights and len(self.hour_weights) != 24:
            raise ValueError("hour_weights needs 24 values or none")
        return self


class EmpiricalTargets(_Section):
    """Aggregates derived from a user's table by `fraudsim calibrate` (honest traffic is drawn
    from these instead of the card/ATM/transfer model). Weekday and day-of-month weights are
    rates per calendar occurrence with mean 1; day 31 of day_of_month_weights is the last day
    of the month."""

    source_has_time: bool
    hour_shape: str  # "data" or why another shape is used
    levels: list[Share] = Field(min_length=2)
    activity_per_account_month: NonNegative
    activity_gamma_shape: Positive
    activity_histogram: list[NonNegative] = Field(default_factory=list)
    accounts_in_source: bool = True
    weekday_weights: list[NonNegative] = Field(min_length=7, max_length=7)
    day_of_month_weights: list[NonNegative] = Field(min_length=31, max_length=31)
    hour_weights: list[NonNegative] = Field(default_factory=list)
    balance_quantiles: list[float] = Field(default_factory=list)
    distinct_counterparties_per_account: NonNegative | None = None
    fraud_share: Share | None = None
    fraud_amount_quantiles: list[NonNegative] = Field(default_factory=list)
    types: list[EmpiricalType] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_mapping(self) -> EmpiricalTargets:
        keys = [(t.tx_type, t.channel, t.direction) for t in self.types]
        if len(set(keys)) != len(keys):
            raise ValueError("two types share one (tx_type, channel, direction)")
        if any(len(t.amount_quantiles) != len(self.levels) for t in self.types):
            raise ValueError("amount_quantiles need one value per level")
        return self


class ScaTargets(_Section):
    """Strong customer authentication (PSD2 RTS, Delegated Regulation (EU) 2018/389) and the
    issuer's risk engine: which card payments are challenged, exempt or need a PIN."""

    low_value_limit: Positive  # remote payments up to this are exempt (Art. 16) ...
    low_value_cumulative: Positive  # ... until the exempted sum since the last SCA passes this
    low_value_count: int = Field(ge=1, le=100)  # ... or this many consecutive exemptions
    contactless_limit: Positive  # in-store taps without PIN up to this (Art. 11) ...
    contactless_cumulative: Positive  # ... while taps since the last PIN stay under this sum
    contactless_count: int = Field(ge=1, le=100)  # ... and this many consecutive taps
    contactless_share: Share  # honest in-store payments within the limits made by a tap
    tra_ceilings: list[Positive] = Field(min_length=3, max_length=3)  # Art. 18 tiers, ascending
    tra_tier_shares_large: list[NonNegative] = Field(min_length=4, max_length=4)  # none + tiers
    tra_tier_shares_small: list[NonNegative] = Field(min_length=4, max_length=4)
    large_merchant_share: Share  # the largest merchants (by size) whose acquirers apply TRA
    tra_accept_by_risk: list[Share] = Field(min_length=4, max_length=4)  # by risk signals 0..3
    frictionless_by_risk: list[Share] = Field(min_length=4, max_length=4)
    usual_amount_multiple: Annotated[float, Field(ge=1.0)]  # above this x usual ticket: unusual
    usual_amount_weight: Share  # weight of a day's online tickets in the card's usual ticket
    one_leg_out_share: Share  # online merchants acquired outside the EEA (no SCA possible)
    mit_categories: list[str] = Field(default_factory=list)  # subscription-billing categories
    mit_share: Share  # their online payments that are merchant-initiated (out of SCA scope)
    challenge_failure: Share  # honest challenges failed or abandoned
    pin_error: Share  # PIN entries that fail (mistyped)

    @model_validator(mode="after")
    def _tiers(self) -> ScaTargets:
        if self.tra_ceilings != sorted(self.tra_ceilings):
            raise ValueError("tra_ceilings must be ascending")
        _normalised(self.tra_tier_shares_large, "tra_tier_shares_large")
        _normalised(self.tra_tier_shares_small, "tra_tier_shares_small")
        return self


class CardFraudTargets(_Section):
    """How card-fraud rings cash out stolen card data: the shops they favour, their tickets and
    how hard they use one card (typologies read these; honest traffic never does)."""

    cash_out_categories: list[str] = Field(min_length=1)  # online categories that resell well
    cash_out_category_weights: list[NonNegative] = Field(min_length=1)  # their share of shops
    cash_out_median: Positive  # median cash-out at a shop of the usual online ticket (major)
    cash_out_sigma: Annotated[float, Field(gt=0.0, le=3.0)]  # its log-spread
    cash_out_price_elasticity: Annotated[float, Field(ge=0.0, le=1.0)]  # follows shop prices
    no_sca_shop_weight: Annotated[float, Field(ge=1.0, le=100.0)]  # rings favour no-SCA shops
    shop_size_exponent: Annotated[float, Field(ge=0.0, le=1.0)]  # 1: shops picked as by traffic
    test_shop_size_exponent: Annotated[float, Field(ge=0.0, le=1.0)]  # the same for card tests
    transactions_per_card_day: Annotated[float, Field(ge=1.0, le=20.0)]  # a card's cash-out day
    spree_gap_minutes: Positive  # median minutes between two purchases of one card's day
    spree_days: Annotated[float, Field(ge=1.0, le=60.0)]  # mean days one card is cashed out

    @model_validator(mode="after")
    def _weights(self) -> CardFraudTargets:
        if len(self.cash_out_category_weights) != len(self.cash_out_categories):
            raise ValueError("cash_out_category_weights needs one weight per category")
        _normalised(self.cash_out_category_weights, "cash_out_category_weights")
        return self


class LookalikeTargets(_Section):
    """How often honest people do what fraud looks like (look-alike typologies), per customer
    and month (subscriptions: a stock per customer). Honest rates: prevalence control and
    oversampling never scale them."""

    payroll_per_customer_month: NonNegative
    bill_split_per_customer_month: NonNegative
    family_loan_per_customer_month: NonNegative
    subscriptions_per_customer: NonNegative
    trips_away_per_customer_month: NonNegative
    new_phone_banking_per_customer_month: NonNegative
    large_purchase_per_customer_month: NonNegative
    new_customers_per_customer_month: NonNegative
    large_transfers_per_customer_month: NonNegative


class Tolerances(_Section):
    """How far a simulated aggregate may sit from its target and still pass."""

    relative: Positive = 0.15
    shape_l1: Positive = 0.10


class ProfileMeta(_Section):
    name: str
    description: str
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    minor_units: int = Field(ge=0, le=4)


class Profile(_Section):
    """Calibration targets. Every numeric field must have an entry in `sources`."""

    meta: ProfileMeta
    population: PopulationTargets
    merchants: MerchantTargets
    cards: CardTargets
    atm: AtmTargets
    transfers: TransferTargets
    balances: BalanceTargets
    calendar: CalendarTargets
    fraud: FraudTargets
    events: EventTargets
    sessions: SessionTargets
    sca: ScaTargets
    lookalikes: LookalikeTargets
    card_fraud: CardFraudTargets
    tolerances: Tolerances = Tolerances()
    empirical: EmpiricalTargets | None = None
    sources: dict[str, str]
    provenance: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _every_number_sourced(self) -> Profile:
        missing = [key for key in self.numeric_fields() if key not in self.sources]
        if missing:
            raise ValueError(f"numbers without a source: {', '.join(missing)}")
        return self

    def numeric_fields(self) -> list[str]:
        """Dotted names of every calibrated figure (sections with numbers or number lists)."""
        keys = []
        for section in (
            "population",
            "merchants",
            "cards",
            "atm",
            "transfers",
            "balances",
            "calendar",
            "fraud",
            "events",
            "sessions",
            "sca",
            "lookalikes",
            "card_fraud",
        ):
            model = getattr(self, section)
            for name, value in model:
                if isinstance(value, (int, float)) or (
                    isinstance(value, list) and value and not isinstance(value[0], str)
                ):
                    keys.append(f"{section}.{name}")
        return keys

    @property
    def minor_per_major(self) -> int:
        return 10**self.meta.minor_units

    def weights(self, section: str, name: str) -> list[float]:
        return _normalised(getattr(getattr(self, section), name), name)


def builtin_profiles() -> list[str]:
    """Names of the profiles shipped with the package."""
    folder = resources.files("fraudsim.calibration") / "profiles"
    return sorted(
        p.name.removesuffix(".toml") for p in folder.iterdir() if p.name.endswith(".toml")
    )


def load_profile(name_or_path: str | Path) -> Profile:
    """Load a built-in profile by name (e.g. "default") or a profile TOML file by path."""
    text_name = str(name_or_path)
    if text_name in builtin_profiles():
        ref = resources.files("fraudsim.calibration") / "profiles" / f"{text_name}.toml"
        path, label = Path(str(ref)), f"profile '{text_name}'"
    else:
        path, label = Path(text_name), text_name
        if not path.exists():
            allowed = ", ".join(builtin_profiles())
            raise ConfigError(
                f"profile '{text_name}': not a built-in profile ({allowed}) and no such file"
            )
    data = read_toml(path, "profile", label)
    try:
        return Profile.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(label, exc)) from None


def lognormal_mixture_median(mus: list[float], sigma: float, weights: list[float]) -> float:
    """Median of a mixture of lognormals sharing sigma (bisection on the mixture CDF)."""

    def cdf(x: float) -> float:
        z = math.log(x)
        return sum(
            w * 0.5 * (1 + math.erf((z - m) / (sigma * math.sqrt(2))))
            for m, w in zip(mus, weights, strict=True)
        )

    lo, hi = math.exp(min(mus) - 6 * sigma), math.exp(max(mus) + 6 * sigma)
    for _ in range(100):
        mid = math.sqrt(lo * hi)
        lo, hi = (mid, hi) if cdf(mid) < 0.5 else (lo, mid)
    return math.sqrt(lo * hi)
