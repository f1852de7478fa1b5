"""The demo program: a generated landing directory of a realistic two-program year
(``generate_demo_landing``, in ``partner_ledger.demo.data``, which describes the package)."""

from partner_ledger.demo.data import generate_demo_landing
from partner_ledger.demo.shape import (
    PROGRAMS,
    STRIPE_FILES,
    TRACKING_HEADERS,
    DemoStats,
    ProgramShape,
)

__all__ = [
    "PROGRAMS",
    "STRIPE_FILES",
    "TRACKING_HEADERS",
    "DemoStats",
    "ProgramShape",
    "generate_demo_landing",
]
