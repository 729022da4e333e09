"""Sample data: a Segment-shaped export of a live-entertainment and merchandise business.

``generate`` writes the raw files ``atc load`` reads: ``events/part-*.parquet``,
``message_events``, ``consents``, ``venues``, ``shows`` and ``products``. The data
is realistic on purpose, messiness included: anonymous browsing on several
devices before login, shared box-office kiosks, junk and misspelled emails,
phones in every format, duplicated and late deliveries, and a small share of
malformed rows of every kind staging quarantines.

Generation is vectorised: numpy draws typed arrays per chunk of people, DuckDB
turns them into text and JSON and writes the files. Everything derives from the
seed, and every output is written in an explicit order, so the same seed, size
and ``as_of`` give identical rows.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute  # noqa: F401  (pa.compute)
import pyarrow.parquet as pq

from journey_atc.raw_schema import RAW_TABLES

CHUNK_PEOPLE = 50_000
HISTORY_DAYS = 400
MESSAGE_DAYS = 60
MEAN_EVENTS_PER_PERSON = 30

# ---------------------------------------------------------------- geography
COUNTRIES = ["US", "CA", "GB", "IE", "DE", "FR", "NL", "ES", "AU"]
COUNTRY_WEIGHTS = [0.34, 0.07, 0.15, 0.03, 0.11, 0.09, 0.06, 0.07, 0.08]
LOCALES = ["en-US", "en-CA", "en-GB", "en-GB", "de-DE", "fr-FR", "nl-NL", "es-ES", "en-AU"]
CURRENCIES = ["USD", "CAD", "GBP", "EUR", "EUR", "EUR", "EUR", "EUR", "AUD"]
FX_FROM_USD = {"USD": 1.0, "CAD": 1.37, "GBP": 0.79, "EUR": 0.92, "AUD": 1.52}
ZONES = [
    "America/New_York",
    "America/Chicago",
    "America/Los_Angeles",
    "America/Toronto",
    "Europe/London",
    "Europe/Dublin",
    "Europe/Berlin",
    "Europe/Paris",
    "Europe/Amsterdam",
    "Europe/Madrid",
    "Australia/Sydney",
]
# country -> (zone indexes, weights)
COUNTRY_ZONES = {
    "US": ([0, 1, 2], [0.5, 0.25, 0.25]),
    "CA": ([3], [1.0]),
    "GB": ([4], [1.0]),
    "IE": ([5], [1.0]),
    "DE": ([6], [1.0]),
    "FR": ([7], [1.0]),
    "NL": ([8], [1.0]),
    "ES": ([9], [1.0]),
    "AU": ([10], [1.0]),
}
# (city, country, zone index, venues there)
CITIES = [
    ("New York", "US", 0, 4),
    ("Boston", "US", 0, 1),
    ("Chicago", "US", 1, 3),
    ("Austin", "US", 1, 1),
    ("Los Angeles", "US", 2, 2),
    ("San Francisco", "US", 2, 1),
    ("Toronto", "CA", 3, 3),
    ("London", "GB", 4, 4),
    ("Manchester", "GB", 4, 2),
    ("Dublin", "IE", 5, 2),
    ("Berlin", "DE", 6, 3),
    ("Hamburg", "DE", 6, 1),
    ("Paris", "FR", 7, 3),
    ("Lyon", "FR", 7, 1),
    ("Amsterdam", "NL", 8, 3),
    ("Madrid", "ES", 9, 2),
    ("Barcelona", "ES", 9, 1),
    ("Sydney", "AU", 10, 2),
    ("Melbourne", "AU", 10, 1),
]
VENUE_KINDS = ["Arena", "Theatre", "Hall", "Stadium", "Club", "Music Hall", "Playhouse"]

SHOW_CATEGORIES = ["concerts", "theatre", "comedy", "sports", "family", "festivals"]
MERCH_CATEGORIES = ["apparel", "music", "posters", "accessories", "food_drink", "upgrades"]
ALL_CATEGORIES = SHOW_CATEGORIES + MERCH_CATEGORIES
SHOW_WORDS = {
    "concerts": ["Live", "World Tour", "Unplugged", "In Concert", "Symphony Night"],
    "theatre": ["Hamlet", "The Seagull", "Les Mis", "A Doll's House", "Cabaret"],
    "comedy": ["Stand-up Night", "Improv Jam", "Comedy Gala", "Late Laughs"],
    "sports": ["Derby", "Cup Final", "Playoff Game", "Fight Night"],
    "family": ["Circus", "Puppet Show", "Ice Magic", "Dino Live"],
    "festivals": ["Summer Fest", "Jazz Weekend", "Food & Beats", "Indie Days"],
}
PRODUCT_WORDS = {
    "apparel": ["Tour T-Shirt", "Hoodie", "Cap", "Scarf"],
    "music": ["Vinyl LP", "CD", "Signed Vinyl"],
    "posters": ["Tour Poster", "Limited Print"],
    "accessories": ["Tote Bag", "Lanyard", "Phone Case", "Pin Set"],
    "food_drink": ["Drinks Voucher", "Snack Combo"],
    "upgrades": ["Parking Pass", "Fast Lane", "Lounge Access", "Seat Upgrade"],
}

# ---------------------------------------------------------------- events
# kind: (canonical name, stage within a session, raw spellings; first is the usual one)
KINDS: list[tuple[str, int, list[str]]] = [
    ("signed_up", 1, ["Signed Up", "signed_up", "Sign Up", "Account Created"]),
    ("logged_in", 1, ["Logged In", "logged_in", "Login", "Signed In"]),
    ("app_opened", 0, ["Application Opened", "App Opened", "app_open"]),
    (
        "newsletter_subscribed",
        2,
        ["Newsletter Subscribed", "newsletter_signup", "Subscribed To Newsletter"],
    ),
    ("category_viewed", 3, ["Category Viewed", "Product List Viewed", "category_view"]),
    ("product_viewed", 4, ["Product Viewed", "product_view", "View Item"]),
    ("show_viewed", 4, ["Show Viewed", "Event Viewed", "show_view"]),
    ("product_added", 5, ["Product Added", "Add to Cart", "add_to_cart"]),
    ("product_removed", 6, ["Product Removed", "Remove from Cart"]),
    ("cart_viewed", 6, ["Cart Viewed"]),
    ("checkout_started", 7, ["Checkout Started", "Begin Checkout"]),
    ("order_completed", 8, ["Order Completed", "Purchase", "purchase", "Checkout Completed"]),
    ("order_refunded", 9, ["Order Refunded"]),
    ("ticket_scanned", 9, ["Ticket Scanned"]),
    ("search_performed", 3, ["Products Searched", "Search"]),
    ("page", 2, []),
    ("screen", 2, []),
    ("identify", 0, []),
    ("alias", 0, []),
]
K = {name: i for i, (name, _, _) in enumerate(KINDS)}
STAGE = np.array([stage for _, stage, _ in KINDS])
# sampling weights of ordinary activity (signup/identify/alias only come from logins)
BASE_WEIGHTS = {
    "page": 0.17,
    "screen": 0.07,
    "app_opened": 0.05,
    "category_viewed": 0.12,
    "show_viewed": 0.15,
    "product_viewed": 0.12,
    "search_performed": 0.05,
    "product_added": 0.085,
    "product_removed": 0.012,
    "cart_viewed": 0.03,
    "checkout_started": 0.03,
    "order_completed": 0.03,
    "order_refunded": 0.002,
    "ticket_scanned": 0.012,
    "newsletter_subscribed": 0.006,
    "logged_in": 0.02,
}
UNKNOWN_EVENTS = ["Button Clicked", "Video Played", "experiment_viewed", "Coupon Entered"]
UNKNOWN_TYPES = ["trak", "event", "unknown", "capture"]
BAD_TIMESTAMPS = ["not-a-date", "32/13/2026", "2026-02-30T25:61:00Z", "yesterday", ""]
ABSURD_TIMESTAMPS = ["1970-01-01T00:00:00Z", "2099-12-31T23:59:59Z", "1900-01-01T00:00:00+00:00"]
BROKEN_JSON = ['{"device": {"id": "', "{'locale': 'en-US'}", '{"ip": 1.2.3}', "[unterminated", "{"]
SEARCH_TERMS = [
    "taylor",
    "hamlet tickets",
    "comedy tonight",
    "hoodie",
    "family show",
    "vinyl",
    "cup final",
    "jazz",
]
FIRST_NAMES = [
    "James",
    "Mary",
    "Liam",
    "Emma",
    "Noah",
    "Olivia",
    "Lukas",
    "Mia",
    "Hugo",
    "Chloe",
    "Daan",
    "Sophie",
    "Lucia",
    "Mateo",
    "Jack",
    "Ava",
    "Finn",
    "Lea",
    "Oscar",
    "Isla",
]
LAST_NAMES = [
    "Smith",
    "Johnson",
    "Brown",
    "Murphy",
    "Müller",
    "Schmidt",
    "Martin",
    "Bernard",
    "de Jong",
    "Jansen",
    "García",
    "López",
    "Wilson",
    "Taylor",
    "O'Brien",
    "Nguyen",
]
EMAIL_DOMAINS = ["gmail.com", "yahoo.com", "hotmail.com", "outlook.com", "icloud.com", "proton.me"]
COUNTRY_DOMAINS = {
    "US": "aol.com",
    "CA": "rogers.com",
    "GB": "btinternet.com",
    "IE": "eircom.net",
    "DE": "web.de",
    "FR": "orange.fr",
    "NL": "ziggo.nl",
    "ES": "telefonica.es",
    "AU": "bigpond.com",
}
TYPO_DOMAINS = ["gmial.com", "hotmial.com", "yaho.com"]
DISPOSABLE_DOMAINS = ["mailinator.com", "10minutemail.com"]
ROLE_LOCALS = ["info", "admin", "sales"]
JUNK_EMAILS = ["test@test.com", "none@none.com"]
JOURNEYS = ["welcome", "abandoned_cart", "pre_show", "win_back"]
CHANNELS = ["email", "sms", "push", "whatsapp"]
TICKET_TYPES = ["general", "premium", "vip"]
TICKET_MULT = np.array([1.0, 1.8, 3.5])


@dataclass
class GenerationReport:
    """What :func:`generate` wrote: files per table, row counts and wall time."""

    people: int
    files: dict[str, list[Path]]
    rows: dict[str, int]
    seconds: float


def _sql_list(values: list[str]) -> str:
    return "[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


def _columns(table: str) -> list[str]:
    return [name for name, _, _ in RAW_TABLES[table] if not name.startswith("_")]


def _offset_table(as_of: datetime) -> tuple[np.ndarray, int]:
    """UTC offset in minutes of every zone for every hour around ``as_of`` (hours since start)."""
    start = as_of - timedelta(days=HISTORY_DAYS + 40)
    start = start.replace(minute=0, second=0, microsecond=0)
    hours = (HISTORY_DAYS + 40 + 420) * 24
    table = np.zeros((len(ZONES), hours), dtype=np.int16)
    for z, name in enumerate(ZONES):
        zone = ZoneInfo(name)
        # offsets only change on DST days: probe daily, refine hourly where it changed
        day_offsets = [
            int((start + timedelta(days=d)).astimezone(zone).utcoffset().total_seconds() // 60)
            for d in range(hours // 24 + 1)
        ]
        for d in range(hours // 24):
            lo = d * 24
            if day_offsets[d] == day_offsets[d + 1]:
                table[z, lo : lo + 24] = day_offsets[d]
            else:
                for h in range(24):
                    t = start + timedelta(hours=lo + h)
                    table[z, lo + h] = int(t.astimezone(zone).utcoffset().total_seconds() // 60)
    return table, int(start.timestamp())


class _Clock:
    """Turns UTC epoch seconds into local offsets for a zone, from a precomputed table."""

    def __init__(self, as_of: datetime):
        self.table, self.start = _offset_table(as_of)

    def offsets(self, zone_idx: np.ndarray, epoch_s: np.ndarray) -> np.ndarray:
        hour = np.clip((epoch_s - self.start) // 3600, 0, self.table.shape[1] - 1)
        return self.table[zone_idx, hour].astype(np.int32)


# ---------------------------------------------------------------- catalog


@dataclass
class _Catalog:
    venue_country: np.ndarray  # country index per venue
    venue_zone: np.ndarray
    show_venue: np.ndarray
    show_category: np.ndarray
    show_price: np.ndarray  # base price in the venue's currency
    show_start: np.ndarray  # epoch seconds
    show_by_country: list[np.ndarray]  # show indexes per country
    product_category: np.ndarray
    product_price: np.ndarray  # USD
    venues: pa.Table
    shows: pa.Table
    products: pa.Table


def _catalog(rng: np.random.Generator, as_of: datetime, clock: _Clock) -> _Catalog:
    as_of_s = int(as_of.timestamp())
    v_names, v_city, v_country, v_zone, v_cap = [], [], [], [], []
    for city, country, zone, count in CITIES:
        for _ in range(count):
            kind = VENUE_KINDS[int(rng.integers(len(VENUE_KINDS)))]
            v_names.append(
                f"{city} {kind}" if kind not in {n.split()[-1] for n in v_names} else f"{city} {kind} {len(v_names)}"
            )
            v_city.append(city)
            v_country.append(COUNTRIES.index(country))
            v_zone.append(zone)
            v_cap.append(int(rng.choice([800, 1500, 2500, 5000, 12000, 20000, 45000])))
    n_venues = len(v_names)
    venue_ids = [f"ven_{i + 1:03d}" for i in range(n_venues)]
    venues = pa.table(
        {
            "venue_id": venue_ids,
            "name": v_names,
            "city": v_city,
            "country": [COUNTRIES[c] for c in v_country],
            "timezone": [ZONES[z] for z in v_zone],
            "capacity": pa.array(v_cap, pa.int64()),
        }
    )
    venue_country = np.array(v_country)
    venue_zone = np.array(v_zone)

    n_shows = n_venues * 24
    show_venue = np.repeat(np.arange(n_venues), 24)
    show_category = rng.integers(0, len(SHOW_CATEGORIES), n_shows)
    # shows spread from the start of history to half a year ahead, evenings local time
    day = rng.integers(-HISTORY_DAYS, 180, n_shows)
    local_hour = rng.choice([14, 19, 19, 20, 20, 21], n_shows)
    midnight_utc = (as_of_s // 86400 + day) * 86400
    approx = midnight_utc + local_hour * 3600
    offset = clock.offsets(venue_zone[show_venue], approx)
    show_start = approx - offset * 60
    on_sale = show_start - rng.integers(20, 200, n_shows) * 86400
    show_price = np.round(rng.uniform(25, 140, n_shows), 0)
    names = [
        f"{SHOW_WORDS[SHOW_CATEGORIES[c]][int(rng.integers(len(SHOW_WORDS[SHOW_CATEGORIES[c]])))]} #{i + 1}"
        for i, c in enumerate(show_category)
    ]
    shows = pa.table(
        {
            "show_id": [f"shw_{i + 1:05d}" for i in range(n_shows)],
            "name": names,
            "category": [SHOW_CATEGORIES[c] for c in show_category],
            "venue_id": [venue_ids[v] for v in show_venue],
            "starts_at": _iso_local(show_start, offset),
            "on_sale_at": _iso_local(on_sale, clock.offsets(venue_zone[show_venue], on_sale)),
        }
    )
    show_country = venue_country[show_venue]
    show_by_country = [np.flatnonzero(show_country == c) for c in range(len(COUNTRIES))]

    p_cat, p_name, p_price = [], [], []
    for cat_i, cat in enumerate(MERCH_CATEGORIES):
        for word in PRODUCT_WORDS[cat]:
            for variant in ("", " (Limited)", " (Kids)", " Deluxe"):
                p_cat.append(cat_i)
                p_name.append(word + variant)
                p_price.append(float(np.round(rng.uniform(5, 80), 2)))
    n_products = len(p_cat)
    products = pa.table(
        {
            "product_id": [f"sku_{i + 1:04d}" for i in range(n_products)],
            "name": p_name,
            "category": [MERCH_CATEGORIES[c] for c in p_cat],
            "price": pa.array(p_price, pa.float64()),
            "currency": ["USD"] * n_products,
        }
    )
    return _Catalog(
        venue_country=venue_country,
        venue_zone=venue_zone,
        show_venue=show_venue,
        show_category=show_category,
        show_price=show_price,
        show_start=show_start,
        show_by_country=show_by_country,
        product_category=np.array(p_cat),
        product_price=np.array(p_price),
        venues=venues,
        shows=shows,
        products=products,
    )


def _iso_local(epoch_s: np.ndarray, offset_min: np.ndarray) -> list[str]:
    """Small catalogs only: ISO text with the given offset."""
    out = []
    for s, off in zip(epoch_s.tolist(), offset_min.tolist(), strict=True):
        local = datetime.fromtimestamp(s + off * 60, UTC).replace(tzinfo=None)
        sign = "+" if off >= 0 else "-"
        out.append(f"{local:%Y-%m-%dT%H:%M:%S}{sign}{abs(off) // 60:02d}:{abs(off) % 60:02d}")
    return out


# ---------------------------------------------------------------- SQL fragments

ISO_SQL = """
    case
        when {fmt} = 0 then strftime(make_timestamp({ms} * 1000), '%Y-%m-%dT%H:%M:%S.%gZ')
        when {fmt} = 1 then strftime(make_timestamp({ms} * 1000), '%Y-%m-%dT%H:%M:%SZ')
        else strftime(make_timestamp(({ms} + {off} * 60000) * 1000), '%Y-%m-%dT%H:%M:%S')
            || case when {off} < 0 then '-' else '+' end
            || lpad(cast(abs({off}) // 60 as varchar), 2, '0') || ':'
            || lpad(cast(abs({off}) % 60 as varchar), 2, '0')
    end
"""


def _iso(ms: str, off: str, fmt: str) -> str:
    return ISO_SQL.format(ms=ms, off=off, fmt=fmt)


def _uuid(expr: str, hashed: bool = False) -> str:
    """UUID-shaped text from the md5 of ``expr`` (or from ``expr`` if it already is one)."""
    h = expr if hashed else f"md5({expr})"
    return f"cast(cast({h} as uuid) as varchar)"


PEOPLE_SQL = """
create or replace temp table people as
select
    p.pid,
    p.country_i,
    p.zone_i,
    p.fav_cat,
    p.currency_i,
    {countries}[p.country_i + 1] as country,
    {locales}[p.country_i + 1] as locale,
    {zones}[p.zone_i + 1] as tz,
    {cities}[p.city_i + 1] as city,
    {first}[p.first_i + 1] as first_name,
    {last}[p.last_i + 1] as last_name,
    'usr_' || lpad(cast(p.pid as varchar), 8, '0') as user_id,
    case
        when p.email_kind = 5 then null
        else (case when p.email_pad = 1 then ' ' else '' end)
            || (case when p.email_case = 1 then upper(e.base) when p.email_case = 2
                then upper(e.base[1]) || e.base[2:] else e.base end)
            || (case when p.email_pad = 2 then ' ' else '' end)
    end as email,
    case when p.has_phone then ph.phone end as phone,
    p.newsletter,
    {anon_ids} as anon_ids,
    {device_ids} as device_ids
from person_arrow as p
cross join lateral (
    select case p.email_kind
        when 1 then {junk}[p.pid % 2 + 1]
        when 2 then {roles}[p.pid % 3 + 1] || '@company' || cast(p.pid % 200 as varchar) || '.com'
        else {ascii_first} || '.' || {ascii_last}
            || cast(p.pid as varchar) || '@'
            || case p.email_kind
                when 3 then {typos}[p.pid % 3 + 1]
                when 4 then {disposable}[p.pid % 2 + 1]
                else case when p.domain_i < 6 then {domains}[p.domain_i + 1]
                    else {country_domains}[p.country_i + 1] end
            end
    end as base
) as e
cross join lateral (
    select
        lpad(cast(p.ph_a as varchar), 3, '0') as a,
        lpad(cast(p.ph_b as varchar), 4, '0') as b,
        lpad(cast(p.ph_b % 1000 as varchar), 3, '0') as c,
        lpad(cast(p.ph_a % 100 as varchar), 2, '0') as d
) as n
cross join lateral (
    select case
        when p.phone_fmt = 9 then {junk_phones}[p.pid % 3 + 1]
        when p.country_i in (0, 1) then case p.phone_fmt % 4
            when 0 then '+1 (' || n.a || ') 555-' || n.b
            when 1 then n.a || '.555.' || n.b
            when 2 then '(' || n.a || ') 555-' || n.b
            else '+1' || n.a || '555' || n.b end
        when p.country_i = 2 then case p.phone_fmt % 4
            when 0 then '0044 20 7946 0' || n.c
            when 1 then '020 7946 0' || n.c
            when 2 then '+44 7700 900' || n.c
            else '+447700900' || n.c end
        when p.country_i = 3 then case p.phone_fmt % 2
            when 0 then '+353 1 555 ' || n.b else '01 555 ' || n.b end
        when p.country_i = 4 then case p.phone_fmt % 3
            when 0 then '+49 30 9018' || n.d
            when 1 then '030 9018' || n.d
            else '+49 151 5550' || n.b end
        when p.country_i = 5 then case p.phone_fmt % 2
            when 0 then '+33 1 55 ' || n.d || ' ' || substr(n.b, 1, 2) || ' ' || substr(n.b, 3, 2)
            else '01 55 ' || n.d || ' ' || substr(n.b, 1, 2) || ' ' || substr(n.b, 3, 2) end
        when p.country_i = 6 then case p.phone_fmt % 2
            when 0 then '+31 20 555 ' || n.b else '020-555' || n.b end
        when p.country_i = 7 then case p.phone_fmt % 2
            when 0 then '+34 91 555 ' || n.b else '0034 91555' || n.b end
        else case p.phone_fmt % 3
            when 0 then '+61 2 5550 ' || n.b
            when 1 then '(02) 5550 ' || n.b
            else '0412 555 ' || n.c end
    end as phone
) as ph
"""


def _ascii_sql(expr: str) -> str:
    """Lower-case letters only, accents folded: how a name becomes an email local part."""
    return f"regexp_replace(lower(strip_accents({expr})), '[^a-z]', '', 'g')"


def _js(expr: str) -> str:
    """A JSON string value (or null) from a text expression; generated text needs no escaping."""
    return f"""coalesce('"' || ({expr}) || '"', 'null')"""


def _jn(expr: str) -> str:
    """A JSON number/boolean (or null) from an expression."""
    return f"coalesce(cast(({expr}) as varchar), 'null')"


def _jobj(*pairs: tuple[str, str]) -> str:
    """SQL that concatenates a JSON object from (key, JSON-valued SQL) pairs (one allocation)."""
    if not pairs:
        return "'{}'"
    parts = []
    for i, (key, value) in enumerate(pairs):
        parts.append(f"""'{"," if i else "{"}"{key}":'""")
        parts.append(value)
    parts.append("'}'")
    return "concat(" + ", ".join(parts) + ")"


def _events_sql(seed: int) -> str:
    """One projection over the event arrays: text columns and JSON built by concatenation.

    No joins and no sort: with ``preserve_insertion_order`` the rows leave in the
    order the arrays were built, which is the explicit output order.
    """
    device_type = _sql_list(["web", "ios", "android", "kiosk"]) + "[device_type + 1]"
    device = (
        f"case when malformed = 2 then {_jobj(('type', _js(device_type)))} "
        f"else {_jobj(('id', _js('device_id_v')), ('type', _js(device_type)))} end"
    )
    base = [
        ("device", device),
        ("locale", _js("locale")),
        ("ip", _js("ip_a || '.' || ip_b || '.' || ip_c || '.' || ip_d")),
        ("location", _jobj(("country", _js("country")), ("city", _js("city")))),
    ]
    tz = ("timezone", _js("tz"))
    traits = ("traits", _jobj(("email", _js("email")), ("phone", _js("phone"))))
    with_traits = "ctx_traits and malformed <> 2"
    context = (
        f"case when has_tz and {with_traits} then {_jobj(*base, tz, traits)} "
        f"when has_tz then {_jobj(*base, tz)} "
        f"when {with_traits} then {_jobj(*base, traits)} "
        f"else {_jobj(*base)} end"
    )
    cats = _sql_list(ALL_CATEGORIES)
    ticket = _js(_sql_list(TICKET_TYPES) + "[ticket_type + 1]")
    revenue = _jn("round(price * quantity, 2)")
    item1 = _jobj(
        ("product_id", _js("product_id")),
        ("category", _js("product_category")),
        ("price", _jn("price")),
        ("quantity", _jn("quantity")),
    )
    item2 = _jobj(
        ("product_id", _js("product2_id")),
        ("category", _js("product2_category")),
        ("price", _jn("price2")),
        ("quantity", "'1'"),
    )
    k = K
    lit_tickets, lit_merch = _js("'tickets'"), _js("'merchandise'")
    lit_category, lit_home, lit_root = _js("'Category'"), _js("'Home'"), _js("'/'")
    props = f"""case
        when kind = {k["show_viewed"]} then {
        _jobj(
            ("show_id", _js("show_id")),
            ("venue_id", _js("venue_id")),
            ("category", _js("show_category")),
        )
    }
        when kind = {k["ticket_scanned"]} then {_jobj(("show_id", _js("show_id")), ("venue_id", _js("venue_id")))}
        when kind = {k["product_viewed"]} then {
        _jobj(
            ("product_id", _js("product_id")),
            ("category", _js("product_category")),
            ("price", _jn("price")),
            ("currency", _js("currency")),
        )
    }
        when kind = {k["category_viewed"]} then {_jobj(("category", _js(cats + "[category + 1]")))}
        when kind = {k["product_added"]} and order_type = 0 then {
        _jobj(
            ("cart_id", _js("cart_id")),
            ("show_id", _js("show_id")),
            ("category", _js("show_category")),
            ("price", _jn("price")),
            ("quantity", _jn("quantity")),
            ("ticket_type", ticket),
        )
    }
        when kind = {k["product_added"]} then {
        _jobj(
            ("cart_id", _js("cart_id")),
            ("product_id", _js("product_id")),
            ("category", _js("product_category")),
            ("price", _jn("price")),
            ("quantity", _jn("quantity")),
        )
    }
        when kind = {k["product_removed"]} then {_jobj(("cart_id", _js("cart_id")), ("product_id", _js("product_id")))}
        when kind = {k["cart_viewed"]} then {_jobj(("cart_id", _js("cart_id")))}
        when kind = {k["checkout_started"]} then {
        _jobj(("cart_id", _js("cart_id")), ("revenue", revenue), ("currency", _js("currency")))
    }
        when kind = {k["order_completed"]} and order_type = 0 then {
        _jobj(
            ("order_id", _js("order_id")),
            ("cart_id", _js("cart_id")),
            ("order_type", lit_tickets),
            ("revenue", revenue),
            ("currency", _js("currency")),
            ("show_id", _js("show_id")),
            ("venue_id", _js("venue_id")),
            ("category", _js("show_category")),
            ("ticket_type", ticket),
            ("quantity", _jn("quantity")),
        )
    }
        when kind = {k["order_completed"]} then {
        _jobj(
            ("order_id", _js("order_id")),
            ("cart_id", _js("cart_id")),
            ("order_type", lit_merch),
            ("revenue", _jn("round(price * quantity + price2, 2)")),
            ("currency", _js("currency")),
            ("category", _js("product_category")),
            ("quantity", _jn("quantity + cast(price2 > 0 as integer)")),
            (
                "products",
                f"'[' || {item1} || case when price2 > 0 then ',' || {item2} else '' end || ']'",
            ),
        )
    }
        when kind = {k["order_refunded"]} then {
        _jobj(("order_id", _js("'ord_' || pid || '_' || greatest(seq - 7, 0)")), ("revenue", revenue))
    }
        when kind = {k["search_performed"]} then {_jobj(("query", _js(_sql_list(SEARCH_TERMS) + "[category % 8 + 1]")))}
        when kind = {k["newsletter_subscribed"]} then {
        _jobj(("list", _js("case when category % 3 = 0 then 'weekly_picks' else 'newsletter' end")))
    }
        when kind = {k["signed_up"]} then {
        _jobj(("method", _js("case when category % 3 = 0 then 'google' else 'email' end")))
    }
        when kind = {k["page"]} and category < 12 then {
        _jobj(
            ("name", lit_category),
            ("path", _js(f"'/c/' || {cats}[category + 1]")),
            ("category", _js(cats + "[category + 1]")),
        )
    }
        when kind = {k["page"]} then {_jobj(("name", lit_home), ("path", lit_root))}
        when kind = {k["screen"]} then {
        _jobj(("name", _js("case when category < 6 then 'Show Details' else 'Home' end")))
    }
        when kind in ({k["identify"]}, {k["alias"]}) then null
        else '{{}}'
    end"""
    traits_v = _jobj(
        ("email", _js("email")),
        ("phone", _js("phone")),
        ("first_name", _js("first_name")),
        ("last_name", _js("last_name")),
        ("newsletter_opt_in", _jn("newsletter")),
    )
    iso_ts = _iso("ts_ms", "off_min", "ts_fmt")
    iso_received = _iso("received_ms", "0", "copy")
    return f"""
select
    case when malformed = 1 then null else message_id_v end as message_id,
    case
        when malformed = 7 then {_sql_list(UNKNOWN_TYPES)}[seq % 4 + 1]
        when kind = {k["identify"]} then 'identify'
        when kind = {k["alias"]} then 'alias'
        when kind = {k["page"]} then 'page'
        when kind = {k["screen"]} then 'screen'
        else 'track'
    end as type,
    case
        when malformed = 8 then {_sql_list(UNKNOWN_EVENTS)}[seq % 4 + 1]
        when kind in ({k["identify"]}, {k["alias"]}, {k["page"]}, {k["screen"]}) then null
        else {_sql_list([sp for _, _, sps in KINDS for sp in sps] + ["(none)"])}[spelling + 1]
    end as event,
    case when malformed = 2 or kind = {k["alias"]} then null else anonymous_id_v end
        as anonymous_id,
    case when malformed = 2 or not identified then null else person_user_id end as user_id,
    case when kind = {k["alias"]} then anonymous_id_v end as previous_id,
    case
        when malformed = 3 then {_sql_list(BAD_TIMESTAMPS)}[seq % 5 + 1]
        when malformed = 4 then {_sql_list(ABSURD_TIMESTAMPS)}[seq % 3 + 1]
        else {iso_ts}
    end as timestamp,
    {iso_received} as received_at,
    case when malformed = 5 then {_sql_list(BROKEN_JSON)}[seq % 5 + 1] else {context} end
        as context,
    case when malformed = 6 then {_sql_list(BROKEN_JSON)}[(seq + 2) % 5 + 1] else {props} end
        as properties,
    case when kind = {k["identify"]} then {traits_v} end as traits
from (
    select
        *,
        case when device < 0 then 'kiosk-' || lpad(cast(-device as varchar), 3, '0')
            else anon_id end as anonymous_id_v,
        case when device < 0 then 'KIOSK-BOX-OFFICE-' || lpad(cast(-device as varchar), 3, '0')
            else dev_id end as device_id_v,
        {_uuid("h", hashed=True)} as message_id_v,
        'crt_' || pid || '_' || session as cart_id,
        'ord_' || pid || '_' || seq as order_id
    from (select *, md5('evt:{seed}:' || pid || ':' || seq) as h from event_arrow)
)
"""


# ---------------------------------------------------------------- people and events


def _people(rng: np.random.Generator, start: int, n: int) -> dict[str, np.ndarray]:
    country = rng.choice(len(COUNTRIES), n, p=COUNTRY_WEIGHTS)
    zone = np.zeros(n, dtype=np.int64)
    city = np.zeros(n, dtype=np.int64)
    for c, code in enumerate(COUNTRIES):
        mask = country == c
        zs, ws = COUNTRY_ZONES[code]
        zone[mask] = rng.choice(zs, int(mask.sum()), p=ws)
        cities = [i for i, row in enumerate(CITIES) if row[1] == code]
        city[mask] = rng.choice(cities, int(mask.sum()))
    currency = np.array([["USD", "CAD", "GBP", "EUR", "AUD"].index(CURRENCIES[c]) for c in country])
    email_roll = rng.random(n)
    # 0 normal, 1 junk shared, 2 role account, 3 typo domain, 4 disposable, 5 none
    email_kind = np.select(
        [
            email_roll < 0.004,
            email_roll < 0.007,
            email_roll < 0.017,
            email_roll < 0.022,
            email_roll < 0.04,
        ],
        [1, 2, 3, 4, 5],
        0,
    )
    case_roll = rng.random(n)
    pad_roll = rng.random(n)
    phone_fmt = rng.integers(0, 9, n)
    phone_fmt[rng.random(n) < 0.02] = 9
    return {
        "pid": np.arange(start, start + n, dtype=np.int64),
        "country_i": country,
        "zone_i": zone,
        "city_i": city,
        "currency_i": currency,
        "fav_cat": rng.integers(0, len(SHOW_CATEGORIES), n),
        "first_i": rng.integers(0, len(FIRST_NAMES), n),
        "last_i": rng.integers(0, len(LAST_NAMES), n),
        "domain_i": rng.integers(0, 7, n),
        "email_kind": email_kind,
        "email_case": np.select([case_roll < 0.02, case_roll < 0.05], [1, 2], 0),
        "email_pad": np.select([pad_roll < 0.01, pad_roll < 0.02], [1, 2], 0),
        "has_phone": rng.random(n) < 0.55,
        "phone_fmt": phone_fmt,
        "ph_a": rng.integers(201, 990, n),
        "ph_b": rng.integers(100, 200, n),
        "newsletter": rng.random(n) < 0.3,
    }


def _segment_ids(lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For segments of the given lengths: the segment of every element and its position in it."""
    seg = np.repeat(np.arange(len(lengths)), lengths)
    starts = np.cumsum(lengths) - lengths
    pos = np.arange(int(lengths.sum())) - np.repeat(starts, lengths)
    return seg, pos


def _events(
    rng: np.random.Generator,
    p: dict[str, np.ndarray],
    cat: _Catalog,
    clock: _Clock,
    as_of_s: int,
    n_kiosks: int,
) -> dict[str, np.ndarray]:
    n = len(p["pid"])
    # power-law-ish activity: a long tail of heavy users, mean about 30 events
    n_ev = np.clip(np.round(rng.lognormal(np.log(MEAN_EVENTS_PER_PERSON) - 0.72, 1.2, n)), 1, 4000)
    n_ev = n_ev.astype(np.int64)
    first_seen = as_of_s - (rng.beta(1.3, 1.0, n) * HISTORY_DAYS * 86400).astype(np.int64)
    span = as_of_s - 3600 - first_seen
    logs_in = rng.random(n) < 0.8
    login_at = first_seen + (rng.uniform(0.02, 0.7, n) * span).astype(np.int64)
    n_dev = rng.choice([1, 2, 3, 4], n, p=[0.45, 0.3, 0.15, 0.1])
    dev_type = rng.choice(3, (n, 4), p=[0.5, 0.3, 0.2])  # web, ios, android
    signs_up = rng.random(n) < 0.5
    kiosk_user = logs_in & (rng.random(n) < 0.06)

    # sessions: every event opens a new session with some probability
    person, k = _segment_ids(n_ev)
    new_session = (k == 0) | (rng.random(len(person)) < 0.28)
    session_local = np.cumsum(new_session) - 1
    n_sessions = int(session_local[-1]) + 1 if len(person) else 0
    s_person = person[new_session]
    s_start = first_seen[s_person] + (rng.random(n_sessions) * span[s_person]).astype(np.int64)
    s_device = (rng.random(n_sessions) * n_dev[s_person]).astype(np.int64)
    s_ident = logs_in[s_person] & (s_start >= login_at[s_person])
    s_show = np.zeros(n_sessions, dtype=np.int64)
    s_country = p["country_i"][s_person]
    for c in range(len(COUNTRIES)):
        m = s_country == c
        pool = cat.show_by_country[c]
        s_show[m] = pool[rng.integers(0, len(pool), int(m.sum()))]
    s_product = rng.integers(0, len(cat.product_price), n_sessions)
    s_order_type = (rng.random(n_sessions) < 0.35).astype(np.int64)  # 0 tickets, 1 merchandise

    kinds = list(BASE_WEIGHTS)
    w = np.array([BASE_WEIGHTS[x] for x in kinds])
    kind = np.array([K[x] for x in kinds])[rng.choice(len(kinds), len(person), p=w / w.sum())]
    ev_session = session_local

    # login events: identify + signed_up/logged_in (+ alias) opening the first logged-in session
    order = np.lexsort((s_start, s_person))
    cand = order[s_ident[order]]
    _, first_idx = np.unique(s_person[cand], return_index=True)
    login_sessions = cand[first_idx]
    lp = s_person[login_sessions]
    with_alias = rng.random(len(lp)) < 0.1
    l_session = np.concatenate([login_sessions, login_sessions, login_sessions[with_alias]])
    l_kind = np.concatenate(
        [
            np.full(len(lp), K["identify"]),
            np.where(signs_up[lp], K["signed_up"], K["logged_in"]),
            np.full(int(with_alias.sum()), K["alias"]),
        ]
    )
    l_stage = np.concatenate([np.full(len(lp), -3), np.full(len(lp), -2), np.full(int(with_alias.sum()), -1)])

    # kiosk sessions: box-office devices shared by many people who log in on them
    kp = np.flatnonzero(kiosk_user)
    k_sess_ids = n_sessions + np.arange(len(kp))
    k_start = np.maximum(login_at[kp], as_of_s - HISTORY_DAYS * 86400) + (
        rng.random(len(kp)) * (as_of_s - 3600 - login_at[kp])
    ).astype(np.int64)
    k_device = -(1 + rng.integers(0, n_kiosks, len(kp)))
    k_len = rng.integers(2, 5, len(kp))
    k_seg, k_pos = _segment_ids(k_len)
    k_kind = np.array([K["logged_in"], K["show_viewed"], K["order_completed"], K["ticket_scanned"]])[k_pos]

    s_person = np.concatenate([s_person, kp])
    s_start = np.concatenate([s_start, k_start])
    s_device = np.concatenate([s_device, k_device])
    s_ident = np.concatenate([s_ident, np.ones(len(kp), dtype=bool)])
    s_kiosk_show = np.zeros(len(kp), dtype=np.int64)
    for c in range(len(COUNTRIES)):
        m = p["country_i"][kp] == c
        pool = cat.show_by_country[c]
        s_kiosk_show[m] = pool[rng.integers(0, len(pool), int(m.sum()))]
    s_show = np.concatenate([s_show, s_kiosk_show])
    s_product = np.concatenate([s_product, rng.integers(0, len(cat.product_price), len(kp))])
    s_order_type = np.concatenate([s_order_type, np.zeros(len(kp), dtype=np.int64)])

    session = np.concatenate([ev_session, l_session, k_sess_ids[k_seg]])
    kind = np.concatenate([kind, l_kind, k_kind])
    stage = np.concatenate([STAGE[kind[: len(person)]], l_stage, np.arange(len(k_kind)) * 0 + k_pos])
    # order sessions by person then start; events within a session by funnel stage
    s_rank = np.empty(len(s_start), dtype=np.int64)
    s_rank[np.lexsort((s_start, s_person))] = np.arange(len(s_start))
    order = np.argsort(s_rank[session] * 16 + stage + 4, kind="stable")
    session, kind = session[order], kind[order]
    m = len(session)
    pid_local = s_person[session]
    ident = s_ident[session]
    device = s_device[session]
    d_type = np.where(device < 0, 3, dev_type[pid_local, np.maximum(device, 0)])
    app = (d_type == 1) | (d_type == 2)
    # app vs web calls; logins only once logged in
    kind = np.where((kind == K["page"]) & app, K["screen"], kind)
    kind = np.where((kind == K["screen"]) & ~app, K["page"], kind)
    kind = np.where((kind == K["app_opened"]) & ~app, K["page"], kind)
    kind = np.where((kind == K["logged_in"]) & ~ident, K["page"], kind)

    # time: sessions start at s_start, events follow a few dozen seconds apart
    gaps = rng.exponential(50.0, m) + 2
    first = np.r_[True, session[1:] != session[:-1]]
    gaps[first] = 0
    cs = np.cumsum(gaps)
    seg_first = np.maximum.accumulate(np.where(first, np.arange(m), 0))
    ts_s = s_start[session] + (cs - cs[seg_first]).astype(np.int64)
    ts_ms = np.minimum(ts_s, as_of_s - 1) * 1000 + rng.integers(0, 1000, m)

    spell_off = np.cumsum([0] + [len(sp) for _, _, sp in KINDS])[:-1]
    spell_n = np.array([max(len(sp), 1) for _, _, sp in KINDS])
    variant = np.where(rng.random(m) < 0.6, 0, (rng.random(m) * spell_n[kind]).astype(np.int64))
    spelling = spell_off[kind] + np.minimum(variant, spell_n[kind] - 1)

    show = s_show[session]
    product = s_product[session]
    order_type = s_order_type[session]
    price_usd = cat.product_price[product]
    cur = p["currency_i"][pid_local]
    fx = np.array([FX_FROM_USD[c] for c in ["USD", "CAD", "GBP", "EUR", "AUD"]])
    # one ticket type and quantity per session, so a cart's events agree with its order
    n_all = len(s_start)
    ticket_type = rng.choice(3, n_all, p=[0.7, 0.22, 0.08])[session]
    quantity = np.where(
        order_type == 0,
        rng.choice([1, 2, 2, 2, 3, 4, 6], n_all)[session],
        rng.choice([1, 1, 1, 2, 3], n_all)[session],
    )
    merch_price = np.round(price_usd * fx[cur], 2)
    ticket_price = np.round(cat.show_price[show] * TICKET_MULT[ticket_type], 2)
    is_merch_kind = (kind == K["product_viewed"]) | (order_type == 1)
    price = np.where(is_merch_kind, merch_price, ticket_price)
    two_items = (kind == K["order_completed"]) & (order_type == 1) & (rng.random(m) < 0.3)
    product2 = np.where(two_items, (product + 1 + rng.integers(0, 20, m)) % len(cat.product_price), -1)
    price2 = np.where(two_items, np.round(cat.product_price[np.maximum(product2, 0)] * fx[cur], 2), 0.0)
    fav = p["fav_cat"][pid_local]
    category = np.where(rng.random(m) < 0.6, fav, rng.integers(0, len(ALL_CATEGORIES) + 1, m))
    # product views point at products, show views at shows: drop the irrelevant reference
    product = np.where(
        np.isin(kind, [K["product_viewed"], K["product_removed"]])
        | ((kind == K["product_added"]) | (kind == K["order_completed"])) & (order_type == 1),
        product,
        -1,
    )

    # delivery: usually seconds later, sometimes days late
    recv_delay = rng.integers(50, 4000, m).astype(np.int64)
    late = rng.random(m) < 0.01
    recv_delay[late] = rng.integers(26 * 3600_000, 12 * 86400_000, int(late.sum()))
    received_ms = np.minimum(ts_ms + recv_delay, as_of_s * 1000 - 1)

    malformed = np.zeros(m, dtype=np.int64)
    bad = rng.random(m) < 0.005
    malformed[bad] = rng.integers(1, 9, int(bad.sum()))

    ip = rng.integers(1, 255, (n, 4))
    ev = {
        "pid": p["pid"][pid_local],
        "local_seq": np.arange(m, dtype=np.int64),
        "session": session,
        "kind": kind,
        "spelling": spelling,
        "device": np.where(device < 0, device, device),
        "device_type": d_type,
        "identified": ident,
        "ts_ms": ts_ms,
        "received_ms": received_ms,
        "zone_i": p["zone_i"][pid_local],
        "show": np.where(
            np.isin(kind, [K["show_viewed"], K["ticket_scanned"]])
            | np.isin(kind, [K["product_added"], K["order_completed"]]) & (order_type == 0),
            show,
            -1,
        ),
        "product": product,
        "product2": product2,
        "price": price,
        "price2": price2,
        "quantity": quantity,
        "ticket_type": ticket_type,
        "order_type": order_type,
        "category": category,
        "has_tz": rng.random(m) > 0.05,
        "ctx_traits": ident & (rng.random(m) < 0.3),
        "ts_fmt": rng.choice(4, m, p=[0.45, 0.15, 0.3, 0.1]),
        "malformed": malformed,
        "ip_a": ip[pid_local, 0],
        "ip_b": ip[pid_local, 1],
        "ip_c": ip[pid_local, 2],
        "ip_d": np.where(device < 0, 7, ip[pid_local, 3]),
    }
    # local offsets for the zone at each instant
    ev["off_min"] = clock.offsets(ev["zone_i"], ts_ms // 1000)
    # duplicated deliveries: the same event again, received later
    dup = np.flatnonzero((rng.random(m) < 0.01) & (malformed == 0))
    out = {key: np.concatenate([val, val[dup]]) for key, val in ev.items()}
    out["copy"] = np.concatenate([np.zeros(m, dtype=np.int64), np.ones(len(dup), dtype=np.int64)])
    extra = rng.integers(60_000, 3 * 86400_000, len(dup))
    out["received_ms"][m:] = np.minimum(out["received_ms"][m:] + extra, as_of_s * 1000 - 1)
    out["received_ms"][m:] = np.maximum(out["received_ms"][m:], ev["received_ms"][dup] + 1)
    return out


def _message_events(rng: np.random.Generator, p: dict[str, np.ndarray], as_of_s: int) -> dict[str, np.ndarray]:
    n = len(p["pid"])
    reached = rng.random(n) < 0.45
    sends = np.where(reached, rng.poisson(2.5, n), 0)
    sp, sk = _segment_ids(sends)
    s = len(sp)
    has_phone = p["has_phone"][sp]
    channel = rng.choice(4, s, p=[0.55, 0.15, 0.2, 0.1])
    channel = np.where((channel == 1) | (channel == 3), np.where(has_phone, channel, 0), channel)
    journey = rng.choice(4, s, p=[0.3, 0.3, 0.25, 0.15])
    sent_ms = (as_of_s - rng.integers(3600, MESSAGE_DAYS * 86400, s)) * 1000
    bounced = rng.random(s) < 0.03
    open_p = np.array([0.35, 0.0, 0.15, 0.5])[channel]
    opened = ~bounced & (rng.random(s) < open_p)
    clicked = opened & (rng.random(s) < 0.3)
    complained = ~bounced & (channel == 0) & (rng.random(s) < 0.003)
    unsub = ~bounced & (rng.random(s) < 0.006)
    # stages: 0 sent, 1 delivered, 2 bounced, 3 opened, 4 clicked, 5 complained, 6 unsubscribed
    present = np.stack([np.ones(s, bool), ~bounced, bounced, opened, clicked, complained, unsub], axis=1)
    send_i, stage = np.nonzero(present)
    m = len(send_i)
    delay_s = np.array([0, 5, 20, 0, 0, 0, 0])[stage] + np.where(
        stage >= 3, rng.integers(60, 3 * 86400, m) * np.array([0, 0, 0, 1, 2, 3, 3])[stage] // 1, 0
    )
    ts_ms = np.minimum(sent_ms[send_i] + delay_s * 1000, as_of_s * 1000 - 1)
    malformed = np.zeros(m, dtype=np.int64)
    bad = rng.random(m) < 0.005
    malformed[bad] = rng.integers(1, 5, int(bad.sum()))  # 1 no id, 2 channel, 3 timestamp, 4 json
    ident_roll = rng.random(m)
    out = {
        "pid": p["pid"][sp][send_i],
        "send_k": sk[send_i],
        "stage": stage,
        "channel": channel[send_i],
        "journey": journey[send_i],
        "ts_ms": ts_ms,
        "zone_i": p["zone_i"][sp][send_i],
        "ts_fmt": rng.choice(4, m, p=[0.6, 0.2, 0.15, 0.05]),
        "hard": rng.random(m) < 0.4,
        "ident_roll": ident_roll,
        "malformed": malformed,
    }
    dup = np.flatnonzero((rng.random(m) < 0.005) & (malformed == 0))
    out = {key: np.concatenate([val, val[dup]]) for key, val in out.items()}
    out["copy"] = np.concatenate([np.zeros(m, dtype=np.int64), np.ones(len(dup), dtype=np.int64)])
    out["seq"] = np.arange(len(out["pid"]), dtype=np.int64)
    return out


def _consents(rng: np.random.Generator, p: dict[str, np.ndarray], as_of_s: int) -> dict[str, np.ndarray]:
    n = len(p["pid"])
    # record probability per channel; many people have no record for some channels
    has = rng.random((n, 4)) < np.array([0.6, 0.3, 0.4, 0.15])
    has[:, 1] &= p["has_phone"]
    has[:, 3] &= p["has_phone"]
    person, channel = np.nonzero(has)
    m = len(person)
    eu = np.isin(p["country_i"][person], [2, 3, 4, 5, 6, 7])
    granted = rng.random(m) < np.where(eu, 0.55, 0.75)
    recorded = as_of_s - rng.integers(86400, HISTORY_DAYS * 86400, m)
    override = rng.random(m) < 0.12
    oi = np.flatnonzero(override)
    person = np.concatenate([person, person[oi]])
    channel = np.concatenate([channel, channel[oi]])
    granted = np.concatenate([granted, ~granted[oi]])
    recorded = np.concatenate([recorded, recorded[oi] + rng.integers(3600, 60 * 86400, len(oi))])
    recorded = np.minimum(recorded, as_of_s - 60)
    source = np.concatenate([rng.integers(0, 3, m), np.full(len(oi), 3)])
    total = len(person)
    by_user = rng.random(total) < np.where(channel == 2, 1.0, 0.25)
    malformed = np.zeros(total, dtype=np.int64)
    bad = rng.random(total) < 0.005
    malformed[bad] = rng.integers(1, 4, int(bad.sum()))  # 1 granted text, 2 timestamp, 3 no id
    out = {
        "pid": p["pid"][person],
        "channel": channel,
        "granted": granted,
        "recorded_ms": recorded * 1000,
        "zone_i": p["zone_i"][person],
        "ts_fmt": rng.choice(4, total, p=[0.5, 0.2, 0.25, 0.05]),
        "source": source,
        "by_user": by_user,
        "malformed": malformed,
    }
    order = np.lexsort((out["recorded_ms"], out["channel"], out["pid"]))
    out = {key: val[order] for key, val in out.items()}
    out["seq"] = np.arange(total, dtype=np.int64)
    return out


MESSAGE_SQL = """
with m as (
    select
        me.*,
        pe.user_id,
        pe.email,
        pe.phone,
        'msg:' || {seed} || ':' || me.pid || ':' || me.send_k as send_key
    from msg_arrow as me
    inner join people as pe on me.pid = pe.pid
)

select
    case when malformed = 1 then null
        else {event_uuid} end as event_id,
    {send_uuid} as message_id,
    case when malformed = 2 then 'fax' else {channels}[channel + 1] end as channel,
    {journeys}[journey + 1] as journey_id,
    {stages}[stage + 1] as event_type,
    case when channel = 2 or (channel = 0 and ident_roll < 0.5) then user_id end as user_id,
    case when channel = 0 then email end as email,
    case when channel in (1, 3) then phone end as phone,
    case when malformed = 3 then {bad_ts}[seq % 5 + 1] else {iso_ts} end as timestamp,
    case
        when malformed = 4 then {broken}[seq % 5 + 1]
        when stage = 2 then cast(json_object(
            'bounce_type', case when hard then 'hard' else 'soft' end) as varchar)
        when stage = 4 then cast(json_object('link', 'https://tickets.example.com/' || journey)
            as varchar)
        else cast(json_object('campaign', {journeys}[journey + 1] || '_' || {channels}[channel + 1])
            as varchar)
    end as properties
from m
order by seq
"""

CONSENT_SQL = """
with c as (
    select ca.*, pe.user_id, pe.email, pe.phone, pe.country
    from consent_arrow as ca
    inner join people as pe on ca.pid = pe.pid
)

select
    'cns_' || {seed} || '_' || pid || '_' || seq as consent_id,
    case when malformed = 3 then null
        when by_user then 'user_id' when channel = 0 then 'email' else 'phone'
    end as identifier_type,
    case when malformed = 3 then null
        when by_user then user_id when channel = 0 then email else phone end as identifier,
    {channels}[channel + 1] as channel,
    'marketing' as purpose,
    case when malformed = 1 then {bad_granted}[seq % 4 + 1]
        when granted then 'true' else 'false' end as granted,
    country as region,
    case when malformed = 2 then {bad_ts}[seq % 5 + 1] else {iso_ts} end as recorded_at,
    {sources}[source + 1] as source
from c
where by_user or channel <> 0 or email is not null
order by seq
"""


# ---------------------------------------------------------------- writing


def _take(values: pa.Array, idx: np.ndarray) -> pa.Array:
    """values[idx], null where idx < 0."""
    return values.take(pa.array(idx, mask=idx < 0))


def _event_table(ev: dict[str, np.ndarray], start: int, con, cat: _Catalog) -> pa.Table:
    """The event arrays plus the person and catalog text they refer to (taken by index)."""
    people = con.sql(
        "select country, locale, tz, city, user_id, email, phone, first_name, last_name, "
        "newsletter, currency_i, anon_ids, device_ids from people order by pid"
    ).to_arrow_table()
    local = ev["pid"] - start
    table = pa.table(ev)
    for name in (
        "country",
        "locale",
        "tz",
        "city",
        "email",
        "phone",
        "first_name",
        "last_name",
        "newsletter",
    ):
        table = table.append_column(name, _take(people[name].combine_chunks(), local))
    table = table.append_column("person_user_id", _take(people["user_id"].combine_chunks(), local))
    currencies = pa.array(["USD", "CAD", "GBP", "EUR", "AUD"])
    cur = people["currency_i"].to_numpy()[local]
    table = table.append_column("currency", _take(currencies, cur))
    slot = local * 4 + np.maximum(ev["device"], 0)
    for name, col in (("anon_id", "anon_ids"), ("dev_id", "device_ids")):
        flat = pa.compute.list_flatten(people[col].combine_chunks())
        table = table.append_column(name, _take(flat, slot))
    shows, products = cat.shows, cat.products
    show = ev["show"]
    table = table.append_column("show_id", _take(shows["show_id"].combine_chunks(), show))
    table = table.append_column("venue_id", _take(shows["venue_id"].combine_chunks(), show))
    table = table.append_column("show_category", _take(shows["category"].combine_chunks(), show))
    for prefix, idx in (("product", ev["product"]), ("product2", ev["product2"])):
        table = table.append_column(f"{prefix}_id", _take(products["product_id"].combine_chunks(), idx))
        table = table.append_column(f"{prefix}_category", _take(products["category"].combine_chunks(), idx))
    return table


class _Sink:
    """Appends chunks of one table to a single Parquet or JSON-lines file, in order."""

    def __init__(self, path: Path, fmt: str, json_cols: tuple[str, ...] = ()):
        self.path = path
        self.fmt = fmt
        self.json_cols = json_cols
        self.writer: pq.ParquetWriter | None = None
        self.rows = 0
        if fmt == "jsonl":
            path.write_bytes(b"")

    def write(self, con: duckdb.DuckDBPyConnection, sql: str, tmp: Path) -> None:
        if self.fmt == "parquet":
            table = con.sql(sql).to_arrow_table()
            if self.writer is None:
                self.writer = pq.ParquetWriter(self.path, table.schema, compression="zstd")
            self.writer.write_table(table)
            self.rows += table.num_rows
        else:
            part = tmp / (self.path.stem + ".part.jsonl")
            _copy_jsonl(con, sql, part, self.json_cols)
            with self.path.open("ab") as out, part.open("rb") as src:
                shutil.copyfileobj(src, out)
            with part.open("rb") as src:
                self.rows += sum(block.count(b"\n") for block in iter(lambda: src.read(1 << 20), b""))

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def _copy_jsonl(con: duckdb.DuckDBPyConnection, sql: str, path: Path, json_cols: tuple[str, ...]) -> None:
    """JSON lines where JSON-text columns become nested objects (broken text stays a string)."""
    con.execute(f"create or replace temp view _out as {sql}")
    cols = [r[0] for r in con.execute("describe _out").fetchall()]
    exprs = []
    for c in cols:
        if c in json_cols:
            exprs.append(f'case when json_valid("{c}") then cast("{c}" as json) else to_json("{c}") end as "{c}"')
        else:
            exprs.append(f'"{c}"')
    con.execute(f"copy (select {', '.join(exprs)} from _out) to '{path}' (format json)")


def _write_table(table: pa.Table, path: Path, fmt: str) -> None:
    if fmt == "parquet":
        pq.write_table(table, path, compression="zstd")
    else:
        con = duckdb.connect()
        con.register("t", table)
        con.execute(f"copy (select * from t) to '{path}' (format json)")
        con.close()


def generate(
    out_dir: Path,
    people: int = 10_000,
    seed: int = 7,
    as_of: datetime = datetime(2026, 11, 1, tzinfo=UTC),
    fmt: str = "parquet",
    progress: Callable[[str, int, int], None] | None = None,
) -> GenerationReport:
    """Write a Segment-shaped sample export for ``people`` people into ``out_dir``.

    ``progress(stage, done, total)`` is called once per chunk of people.
    """
    if fmt not in {"parquet", "jsonl"}:
        raise ValueError(f"fmt must be 'parquet' or 'jsonl', got {fmt!r}")
    if people < 1:
        raise ValueError("people must be at least 1")
    if as_of.tzinfo is None:
        as_of = as_of.replace(tzinfo=UTC)
    started = time.perf_counter()
    out_dir = Path(out_dir)
    ext = "parquet" if fmt == "parquet" else "jsonl"
    events_dir = out_dir / "events"
    if events_dir.exists():
        shutil.rmtree(events_dir)
    events_dir.mkdir(parents=True)
    as_of_s = int(as_of.timestamp())
    clock = _Clock(as_of)
    cat = _catalog(np.random.default_rng([seed, 0]), as_of, clock)
    n_kiosks = int(np.clip(people // 5000, 3, 60))

    files: dict[str, list[Path]] = {t: [] for t in RAW_TABLES}
    rows: dict[str, int] = dict.fromkeys(RAW_TABLES, 0)
    for name, table in (("venues", cat.venues), ("shows", cat.shows), ("products", cat.products)):
        path = out_dir / f"{name}.{ext}"
        _write_table(table, path, fmt)
        files[name].append(path)
        rows[name] = table.num_rows

    con = duckdb.connect()
    con.execute("set preserve_insertion_order = true")
    con.register("shows_src", cat.shows)
    con.register("products_src", cat.products)
    con.execute("create temp table shows as select row_number() over () - 1 as idx, * from shows_src")
    con.execute("create temp table products as select row_number() over () - 1 as idx, * from products_src")

    fmt_sql = {
        "countries": _sql_list(COUNTRIES),
        "locales": _sql_list(LOCALES),
        "zones": _sql_list(ZONES),
        "cities": _sql_list([c[0] for c in CITIES]),
        "first": _sql_list(FIRST_NAMES),
        "last": _sql_list(LAST_NAMES),
        "junk": _sql_list(JUNK_EMAILS),
        "roles": _sql_list(ROLE_LOCALS),
        "typos": _sql_list(TYPO_DOMAINS),
        "disposable": _sql_list(DISPOSABLE_DOMAINS),
        "domains": _sql_list(EMAIL_DOMAINS),
        "country_domains": _sql_list([COUNTRY_DOMAINS[c] for c in COUNTRIES]),
        "junk_phones": _sql_list(["12345", "000-0000", "n/a"]),
    }
    people_sql = PEOPLE_SQL.format(
        anon_ids="[" + ", ".join(_uuid(f"'anon:{seed}:' || p.pid || ':{d}'") for d in range(4)) + "]",
        device_ids="["
        + ", ".join(f"upper(substr(md5('dev:{seed}:' || p.pid || ':{d}'), 1, 16))" for d in range(4))
        + "]",
        ascii_first=_ascii_sql("{first}[p.first_i + 1]".format(**fmt_sql)),
        ascii_last=_ascii_sql("{last}[p.last_i + 1]".format(**fmt_sql)),
        **fmt_sql,
    )
    events_sql = _events_sql(seed)
    msg_sql = MESSAGE_SQL.format(
        seed=seed,
        event_uuid=_uuid("m.send_key || ':' || m.stage"),
        send_uuid=_uuid("m.send_key"),
        channels=_sql_list(CHANNELS),
        journeys=_sql_list(JOURNEYS),
        stages=_sql_list(["sent", "delivered", "bounced", "opened", "clicked", "complained", "unsubscribed"]),
        bad_ts=_sql_list(BAD_TIMESTAMPS),
        broken=_sql_list(BROKEN_JSON),
        iso_ts=_iso("ts_ms", "off_min", "ts_fmt"),
    )
    consent_sql = CONSENT_SQL.format(
        seed=seed,
        channels=_sql_list(CHANNELS),
        bad_granted=_sql_list(["yes", "maybe", "Y", ""]),
        bad_ts=_sql_list(BAD_TIMESTAMPS),
        sources=_sql_list(["signup_form", "checkout", "app_settings", "preference_center"]),
        iso_ts=_iso("recorded_ms", "off_min", "ts_fmt"),
    )

    msg_sink = _Sink(out_dir / f"message_events.{ext}", fmt, ("properties",))
    consent_sink = _Sink(out_dir / f"consents.{ext}", fmt)
    n_chunks = (people + CHUNK_PEOPLE - 1) // CHUNK_PEOPLE
    with tempfile.TemporaryDirectory(prefix="atc-gen-") as tmp_name:
        tmp = Path(tmp_name)
        for chunk in range(n_chunks):
            start = chunk * CHUNK_PEOPLE
            n = min(CHUNK_PEOPLE, people - start)
            rng = np.random.default_rng([seed, 1, chunk])
            p = _people(rng, start, n)
            con.register("person_arrow", pa.table(p))
            con.execute(people_sql)
            ev = _events(rng, p, cat, clock, as_of_s, n_kiosks)
            ev["seq"] = ev["local_seq"]
            con.register("event_arrow", _event_table(ev, start, con, cat))
            part = events_dir / f"part-{chunk:05d}.{ext}"
            if fmt == "parquet":
                con.execute(f"copy ({events_sql}) to '{part}' (format parquet)")
            else:
                _copy_jsonl(con, events_sql, part, ("context", "properties", "traits"))
            files["events"].append(part)
            rows["events"] += len(ev["seq"])

            me = _message_events(rng, p, as_of_s)
            me["off_min"] = clock.offsets(me["zone_i"], me["ts_ms"] // 1000)
            con.register("msg_arrow", pa.table(me))
            msg_sink.write(con, msg_sql, tmp)

            cs = _consents(rng, p, as_of_s)
            cs["off_min"] = clock.offsets(cs["zone_i"], cs["recorded_ms"] // 1000)
            con.register("consent_arrow", pa.table(cs))
            consent_sink.write(con, consent_sql, tmp)
            for name in ("person_arrow", "event_arrow", "msg_arrow", "consent_arrow"):
                con.unregister(name)
            if progress is not None:
                progress("people", start + n, people)
    msg_sink.close()
    consent_sink.close()
    con.close()
    files["message_events"].append(msg_sink.path)
    files["consents"].append(consent_sink.path)
    rows["message_events"] = msg_sink.rows
    rows["consents"] = consent_sink.rows
    return GenerationReport(people=people, files=files, rows=rows, seconds=round(time.perf_counter() - started, 3))
