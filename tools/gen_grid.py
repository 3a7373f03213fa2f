#!/usr/bin/env python3
"""Generate shared/data/grid.csv (the grid carbon-intensity table) from the data
files shipped inside the codecarbon wheel (MIT license).

Usage:
    pip download --no-deps codecarbon==3.3.2 -d /tmp/cc
    python3 tools/gen_grid.py /tmp/cc/codecarbon-3.3.2-py3-none-any.whl [shared/data/grid.csv]

Every intensity in the output is read from (or, for Canadian provinces, computed
from) these files; nothing numeric is typed here except unit conversions and the
data years the files do not carry themselves (each cited below). See
docs/devices-and-grid.md for the method and every assumption, and
shared/data/PROVENANCE.md for the wheel's checksum.

Output: CSV (RFC 4180, UTF-8, "\n" line ends): first one `#n,<source>` line per
distinct source, then the header `code,name,gco2e_per_kwh,year,source`, then the
rows, whose source field is `#n`; a field is double-quoted when it contains a
comma. No field may contain a double quote or a line break (checked here): the
loader in shared/src/grid.rs borrows fields straight from the embedded text and
does not unescape.

Needs only the Python standard library plus the ISO 3166-1 table of the Debian
`iso-codes` package (/usr/share/iso-codes/json/iso_3166-1.json) or `pycountry`,
for the alpha-3 -> alpha-2 mapping.
"""

import csv
import hashlib
import io
import json
import os
import re
import sys
import zipfile

CODECARBON_VERSION = "3.3.2"
DATA = "codecarbon/data/"
GLOBAL_MIX = DATA + "private_infra/global_energy_mix.json"
PER_SOURCE = DATA + "private_infra/carbon_intensity_per_source.json"
USA = DATA + "private_infra/2023/usa_emissions.json"
CANADA = DATA + "private_infra/2023/canada_energy_mix.json"
CLOUD = DATA + "cloud/impact.csv"

CC = f"via codecarbon {CODECARBON_VERSION} ({{file}}, MIT license)"

OWID_SOURCE = (
    "Our World in Data, 'Carbon intensity of electricity generation' (Ritchie, Rosado & Roser, "
    "'Energy'; data adapted from Ember and Energy Institute), lifecycle gCO2e/kWh, "
    + CC.format(file="global_energy_mix.json")
)
WORLD_SOURCE = (
    "IEA, Global Energy & CO2 Status Report 2019, world average, "
    + CC.format(file="carbon_intensity_per_source.json")
)
EGRID_SOURCE = (
    "US EPA eGRID2023, state annual CO2e total output emission rate (STC2ERTA), "
    "lb/MWh converted to g/kWh, " + CC.format(file="2023/usa_emissions.json")
)
CANADA_SOURCE = (
    "provincial generation shares (codecarbon 2023/canada_energy_mix.json) x per-source "
    "lifecycle factors (codecarbon carbon_intensity_per_source.json; sources without a "
    "factor, tidal and other, counted as 0), codecarbon " + CODECARBON_VERSION + ", MIT license"
)
# The csv carries no year: codecarbon PR #610 (2024-07) copied Google's 2023 values
# (GoogleCloudPlatform/region-carbon-info data/yearly/2023.csv).
GCP_YEAR = 2023
GCP_SOURCE = (
    "Google Cloud region grid carbon intensity, 2023 (cloud.google.com/sustainability/region-carbon, "
    "hourly Electricity Maps data; year per codecarbon PR #610), "
    + CC.format(file="cloud/impact.csv")
)
# The directory name `2023/` of the Canadian file is its data year.
CANADA_YEAR = 2023

# Typos in the csv's region ids, corrected to Google's real region names.
GCP_REGION_FIXES = {"me-cenrtal1": "me-central1"}

# Countries whose source value is at or above this are left out of the table.
MAX_PLAUSIBLE = 1200.0

LB_PER_MWH_TO_G_PER_KWH = 0.45359237  # 1 lb = 453.59237 g (exact); MWh -> kWh / 1000

CANADA_PROVINCES = {
    "british columbia": "BC",
    "newfoundland and labrador": "NL",
    "saskatchewan": "SK",
    "prince edward island": "PE",
    "ontario": "ON",
    "nova scotia": "NS",
    "quebec": "QC",
    "alberta": "AB",
    "manitoba": "MB",
    "northwest territories": "NT",
    "new brunswick": "NB",
    "nunavut": "NU",
    "yukon": "YT",
}
# canada_energy_mix.json key -> carbon_intensity_per_source.json key
CANADA_FACTOR_KEYS = {
    "naturalGas": "natural_gas",
    "petroleum": "petroleum",
    "coal": "coal",
    "nuclear": "nuclear",
    "hydro": "hydroelectricity",
    "wind": "wind",
    "solar": "solar",
    "biomass": "biomass",
    "tidal": None,
    "other": None,
}

# Cloud regions without their own figure in the files: (region, location, grid code).
# The grid code is an entry of this table (country, US state, Canadian province).
AWS_REGIONS = [
    ("us-east-1", "N. Virginia", "US-VA"),
    ("us-east-2", "Ohio", "US-OH"),
    ("us-west-1", "N. California", "US-CA"),
    ("us-west-2", "Oregon", "US-OR"),
    ("ca-central-1", "Montreal", "CA-QC"),
    ("ca-west-1", "Calgary", "CA-AB"),
    ("sa-east-1", "Sao Paulo", "BR"),
    ("eu-west-1", "Ireland", "IE"),
    ("eu-west-2", "London", "GB"),
    ("eu-west-3", "Paris", "FR"),
    ("eu-central-1", "Frankfurt", "DE"),
    ("eu-central-2", "Zurich", "CH"),
    ("eu-north-1", "Stockholm", "SE"),
    ("eu-south-1", "Milan", "IT"),
    ("eu-south-2", "Spain", "ES"),
    ("ap-northeast-1", "Tokyo", "JP"),
    ("ap-northeast-2", "Seoul", "KR"),
    ("ap-northeast-3", "Osaka", "JP"),
    ("ap-southeast-1", "Singapore", "SG"),
    ("ap-southeast-2", "Sydney", "AU"),
    ("ap-southeast-3", "Jakarta", "ID"),
    ("ap-south-1", "Mumbai", "IN"),
    ("ap-south-2", "Hyderabad", "IN"),
    ("ap-east-1", "Hong Kong", "HK"),
    ("me-south-1", "Bahrain", "BH"),
    ("me-central-1", "UAE", "AE"),
    ("il-central-1", "Tel Aviv", "IL"),
    ("af-south-1", "Cape Town", "ZA"),
]
AZURE_REGIONS = [
    ("eastus", "Virginia", "US-VA"),
    ("eastus2", "Virginia", "US-VA"),
    ("centralus", "Iowa", "US-IA"),
    ("northcentralus", "Illinois", "US-IL"),
    ("southcentralus", "Texas", "US-TX"),
    ("westus", "California", "US-CA"),
    ("westus2", "Washington", "US-WA"),
    ("westus3", "Arizona", "US-AZ"),
    ("westcentralus", "Wyoming", "US-WY"),
    ("canadacentral", "Toronto", "CA-ON"),
    ("canadaeast", "Quebec City", "CA-QC"),
    ("brazilsouth", "Sao Paulo State", "BR"),
    ("northeurope", "Ireland", "IE"),
    ("westeurope", "Netherlands", "NL"),
    ("uksouth", "London", "GB"),
    ("ukwest", "Cardiff", "GB"),
    ("francecentral", "Paris", "FR"),
    ("germanywestcentral", "Frankfurt", "DE"),
    ("swedencentral", "Gavle", "SE"),
    ("norwayeast", "Oslo", "NO"),
    ("switzerlandnorth", "Zurich", "CH"),
    ("polandcentral", "Warsaw", "PL"),
    ("italynorth", "Milan", "IT"),
    ("spaincentral", "Madrid", "ES"),
    ("eastasia", "Hong Kong", "HK"),
    ("southeastasia", "Singapore", "SG"),
    ("japaneast", "Tokyo", "JP"),
    ("japanwest", "Osaka", "JP"),
    ("koreacentral", "Seoul", "KR"),
    ("australiaeast", "New South Wales", "AU"),
    ("australiasoutheast", "Victoria", "AU"),
    ("centralindia", "Pune", "IN"),
    ("southindia", "Chennai", "IN"),
    ("uaenorth", "Dubai", "AE"),
    ("qatarcentral", "Doha", "QA"),
    ("israelcentral", "Israel", "IL"),
    ("southafricanorth", "Johannesburg", "ZA"),
]

US_STATE_CODES = None  # read from the eGRID file's regionCode fields


def alpha3_to_alpha2():
    path = "/usr/share/iso-codes/json/iso_3166-1.json"
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            return {c["alpha_3"]: c["alpha_2"] for c in json.load(f)["3166-1"]}
    try:
        import pycountry  # type: ignore
    except ImportError:
        sys.exit("need /usr/share/iso-codes/json/iso_3166-1.json (apt install iso-codes) or pycountry")
    return {c.alpha_3: c.alpha_2 for c in pycountry.countries}


def fmt_num(x):
    # Round to 0.001 g/kWh (the files' own precision is at most that), always with a dot.
    r = round(float(x), 3)
    s = repr(r)
    return s if ("." in s or "e" in s) else s + ".0"


def write_table(rows, out):
    """Writes rows of (code, name, number text, year text, source) atomically.

    Each distinct source is written once, before the header, as `#n,<source>`
    (n = 1, 2, ... in order of first use), and rows cite it as `#n`: the table
    is embedded in the page, and 212 rows repeating one 226-character citation
    cost bytes there. QUOTE_MINIMAL quotes exactly the fields that contain a
    comma (quotes and line breaks are refused by the caller); the number keeps
    fmt_num's text, so the Rust side parses the same decimal.
    """
    ids = {}
    for r in rows:
        ids.setdefault(r[4], len(ids) + 1)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    for src, n in ids.items():
        w.writerow([f"#{n}", src])
    w.writerow(["code", "name", "gco2e_per_kwh", "year", "source"])
    for code, name, num, year, src in rows:
        w.writerow([code, name, num, year, f"#{ids[src]}"])
    tmp = out + ".tmp"
    with open(tmp, "w", encoding="utf-8", newline="") as f:
        f.write(buf.getvalue())
    os.replace(tmp, out)


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    wheel = sys.argv[1]
    out = sys.argv[2] if len(sys.argv) > 2 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "shared", "data", "grid.csv"
    )
    if f"codecarbon-{CODECARBON_VERSION}-" not in os.path.basename(wheel):
        sys.exit(f"expected the codecarbon {CODECARBON_VERSION} wheel, got {wheel}")
    with open(wheel, "rb") as f:
        sha = hashlib.sha256(f.read()).hexdigest()
    z = zipfile.ZipFile(wheel)

    def load_json(p):
        return json.loads(z.read(p).decode("utf-8"))

    mix = load_json(GLOBAL_MIX)
    per_source = load_json(PER_SOURCE)
    usa = load_json(USA)
    canada = load_json(CANADA)
    cloud_lines = z.read(CLOUD).decode("utf-8-sig").splitlines()

    a2 = alpha3_to_alpha2()
    entries = []  # (code, name, value, source, year)
    by_code = {}

    def add(code, name, value, source, year):
        if code in by_code:
            sys.exit(f"duplicate code {code}")
        e = (code, name, float(value), source, int(year))
        entries.append(e)
        by_code[code] = e

    # World.
    add("WORLD", "World average", per_source["world_average"], WORLD_SOURCE, 2019)

    # Countries (Our World in Data via codecarbon).
    skipped = []
    out_of_range = []
    for iso3 in sorted(mix, key=lambda k: (a2.get(k) or "~" + k)):
        rec = mix[iso3]
        ci = rec.get("carbon_intensity")
        code = a2.get(iso3)
        if ci is None or code is None:
            skipped.append(iso3)
            continue
        if not (0.0 <= ci < MAX_PLAUSIBLE):
            # Above any fuel's lifecycle factor (coal 995 in carbon_intensity_per_source.json)
            # by a margin: left out rather than clamped (see docs/devices-and-grid.md).
            out_of_range.append(f"{iso3}={ci}")
            continue
        add(code, rec["country_name"], ci, OWID_SOURCE, rec["year"])
    if skipped:
        print("skipped (no intensity or no ISO alpha-2):", ", ".join(skipped), file=sys.stderr)
    if out_of_range:
        print(f"left out (>= {MAX_PLAUSIBLE} gCO2e/kWh):", ", ".join(out_of_range), file=sys.stderr)

    # US states (eGRID via codecarbon), ISO 3166-2 codes.
    egrid_year = int(usa["_source"]["year"])
    for state, rec in sorted(usa.items()):
        if state.startswith("_") or state == "usa":
            continue
        code = "US-" + rec["regionCode"]
        add(code, state.title() + " (US)", rec["emissions"] * LB_PER_MWH_TO_G_PER_KWH, EGRID_SOURCE, egrid_year)

    # Canadian provinces: generation shares x lifecycle factors.
    for prov, rec in sorted(canada.items()):
        total = rec["total"]
        g = 0.0
        for k, share in rec.items():
            if k == "total":
                continue
            if k not in CANADA_FACTOR_KEYS:
                sys.exit(f"unknown Canadian source {k}")
            fk = CANADA_FACTOR_KEYS[k]
            if fk is not None:
                g += share / total * per_source[fk]
        add("CA-" + CANADA_PROVINCES[prov], prov.title() + " (CA)", g, CANADA_SOURCE, CANADA_YEAR)

    # GCP regions: Google's own published figures.
    header = cloud_lines[0].split(",")
    idx = {h: i for i, h in enumerate(header)}
    for line in cloud_lines[1:]:
        if not line.strip():
            continue
        row = line.split(",")
        if row[idx["provider"]] != "gcp":
            continue
        region = GCP_REGION_FIXES.get(row[idx["region"]], row[idx["region"]])
        place = row[idx["city"]] or row[idx["country_name"]]
        add(f"gcp:{region}", f"Google Cloud {region} ({place})", float(row[idx["impact"]]), GCP_SOURCE, GCP_YEAR)

    # AWS and Azure: the grid they sit in.
    for provider, label, regions in (("aws", "AWS", AWS_REGIONS), ("azure", "Azure", AZURE_REGIONS)):
        for region, place, grid in regions:
            if grid not in by_code:
                sys.exit(f"{provider}:{region}: no grid entry {grid}")
            _, gname, gval, gsrc, gyear = by_code[grid]
            add(
                f"{provider}:{region}",
                f"{label} {region} ({place})",
                gval,
                f"grid of {gname} [{grid}] (region location per the provider's region list): {gsrc}",
                gyear,
            )

    for code, _, v, _, _ in entries:
        if not (0.0 <= v < MAX_PLAUSIBLE):
            sys.exit(f"{code}: intensity {v} out of range")

    for e in entries:
        for field in (e[0], e[1], e[3]):
            if not field or any(c in field for c in '"\r\n'):
                sys.exit(f"{e[0]}: empty field or one with a quote or line break: {field!r}")

    write_table([(code, name, fmt_num(v), str(year), src) for code, name, v, src, year in entries], out)
    kinds = {
        "countries": sum(1 for e in entries if re.fullmatch(r"[A-Z]{2}", e[0])),
        "subnational": sum(1 for e in entries if re.fullmatch(r"[A-Z]{2}-[A-Z]{2}", e[0])),
        "cloud": sum(1 for e in entries if ":" in e[0]),
    }
    print(f"wrote {out}: {len(entries)} entries {kinds}", file=sys.stderr)
    print(f"wheel sha256 {sha}: keep shared/data/PROVENANCE.md in step", file=sys.stderr)


if __name__ == "__main__":
    main()
