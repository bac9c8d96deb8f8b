"""The row preparers, one per file shape: a chunk of raw rows in, a Prepared chunk out."""

from segments.importing.formats.customers import CustomerRows
from segments.importing.formats.online_retail import OnlineRetailRows
from segments.importing.formats.orders import OrderRows

__all__ = ["CustomerRows", "OnlineRetailRows", "OrderRows"]
