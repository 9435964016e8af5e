"""One sorting line in real time on simulators, every device on its real transport."""

from simulators.site.feed import FeedError, ParcelFeed, SiteParcel, read_parcels
from simulators.site.results import ItemResult
from simulators.site.simulation import SiteSimulation
from simulators.site.spec import SiteFaults, SiteSimError

__all__ = [
    "FeedError",
    "ItemResult",
    "ParcelFeed",
    "SiteFaults",
    "SiteParcel",
    "SiteSimError",
    "SiteSimulation",
    "read_parcels",
]
