"""The seven transaction features the model takes, in the model's column order, and the examples."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Feature:
    """One model input column: its dataset name, its label in the page, and whether it is a yes/no flag."""

    name: str
    label: str
    is_flag: bool
    help: str


FEATURES: tuple[Feature, ...] = (
    Feature("distance_from_home", "Distance from home", False,
            "How far from the card holder's home the transaction took place (non-negative)."),
    Feature("distance_from_last_transaction", "Distance from last transaction", False,
            "How far from the card's previous transaction it took place (non-negative)."),
    Feature("ratio_to_median_purchase_price", "Ratio to median purchase price", False,
            "Price of this purchase divided by the card holder's median purchase price (non-negative)."),
    Feature("repeat_retailer", "Repeat retailer", True, "Has the card been used at this retailer before?"),
    Feature("used_chip", "Used chip", True, "Was the card's chip used?"),
    Feature("used_pin_number", "Used PIN number", True, "Was the PIN entered?"),
    Feature("online_order", "Online order", True, "Was it an online order?"),
)
FEATURE_NAMES: tuple[str, ...] = tuple(feature.name for feature in FEATURES)

YES = "Yes"
NO = "No"


@dataclass(frozen=True)
class Example:
    """A named example transaction, values in feature order (flags as 0/1)."""

    title: str
    values: tuple[float, ...]


# The demo's two rows come without a verdict: which side of the threshold they fall on depends on the model.
EXAMPLES: tuple[Example, ...] = (
    Example("Demo example 1", (57.87785658389723, 0.3111400080477545, 1.9459399775518593, 1, 1, 0, 0)),
    Example("Demo example 2", (15.694985541059943, 175.98918151972342, 0.8556228290724207, 1, 0, 0, 1)),
    # Far from home and from the last purchase, nine times the usual price, online, new shop, no chip or PIN.
    Example("Clearly fraudulent", (480.0, 350.0, 9.0, 0, 0, 0, 1)),
    # Close to home, the usual price, chip and PIN in a known shop.
    Example("Clearly normal", (2.0, 0.5, 0.9, 1, 1, 1, 0)),
)


FLOAT32_MAX = 3.4028234663852886e38
"""The largest value the model's float32 input holds (numpy.finfo(numpy.float32).max); larger ones overflow."""


class FeatureError(ValueError):
    """A transaction's feature values cannot be sent to the model; the message names the bad field."""


def transaction_row(values: Mapping[str, object]) -> list[float]:
    """Validate one transaction given by feature name and return it as a row in model column order.

    Numbers must be finite, non-negative and within the model's float32 range; flags accept "Yes"/"No", booleans
    or 0/1.
    """
    row: list[float] = []
    for feature in FEATURES:
        value = values.get(feature.name)
        row.append(_flag_value(feature, value) if feature.is_flag else _number_value(feature, value))
    return row


def _number_value(feature: Feature, value: object) -> float:
    if value is None or value == "":
        raise FeatureError(f"{feature.label} is required.")
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise FeatureError(f"{feature.label} must be a number, got {value!r}.") from None
    if not math.isfinite(number) or number < 0:
        raise FeatureError(f"{feature.label} must be a finite number >= 0, got {value!r}.")
    if number > FLOAT32_MAX:
        raise FeatureError(f"{feature.label} must be at most {FLOAT32_MAX:.4g} (the model's float32 range), "
                           f"got {value!r}.")
    return number


def _flag_value(feature: Feature, value: object) -> float:
    if value is None or value == "":
        raise FeatureError(f"{feature.label} is required: choose {YES} or {NO}.")
    if value in (YES, True, 1):
        return 1.0
    if value in (NO, False, 0):
        return 0.0
    raise FeatureError(f"{feature.label} must be {YES} or {NO}, got {value!r}.")
