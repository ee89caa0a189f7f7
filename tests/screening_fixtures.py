"""A small party list in the published Consolidated Screening List layout, and labelled name variants.

The rows follow the real entries' shape (source names, Federal Register citations, licence
requirement and policy wording, "; "-joined aliases and addresses with the ISO-2 country last)
but are abridged and illustrative: this is test data, not a copy of the list.

The variants were written before the matcher: the spellings a screener meets in invoices, shipping
papers and other databases (pinyin vs. Uyghur place names, Russian romanisations, brand vs.
registered name, abbreviations, surname-first order). The decoys are real-looking names that share
a place, a brand prefix or generic words with a listed party but are not on this list.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

COLUMNS = [
    "_id", "source", "entity_number", "type", "programs", "name", "title", "addresses",
    "federal_register_notice", "start_date", "end_date", "standard_order", "license_requirement",
    "license_policy", "call_sign", "vessel_type", "gross_tonnage", "gross_registered_tonnage",
    "vessel_flag", "vessel_owner", "remarks", "source_list_url", "alt_names", "citizenships",
    "dates_of_birth", "nationalities", "places_of_birth", "source_information_url", "ids",
]

EL = "Entity List (EL) - Bureau of Industry and Security"
SDN = "Specially Designated Nationals (SDN) - Treasury Department"
DPL = "Denied Persons List (DPL) - Bureau of Industry and Security"
EL_URL = "https://www.bis.doc.gov/index.php/policy-guidance/lists-of-parties-of-concern/entity-list"
EL_INFO = "https://www.bis.doc.gov/index.php/policy-guidance/lists-of-parties-of-concern"
SDN_URL = "https://sanctionslist.ofac.treas.gov/Home/SdnList"
SDN_INFO = "https://home.treasury.gov/policy-issues/financial-sanctions/specially-designated-nationals-and-blocked-persons-list-sdn-human-readable-lists"
ALL_EAR = "For all items subject to the EAR."
DENIAL = "Presumption of denial."


def _el(id_: str, name: str, alt: str, addresses: str, fr: str, start: str, remarks: str = "") -> dict[str, str]:
    return {"_id": id_, "source": EL, "type": "Entity", "name": name, "alt_names": alt,
            "addresses": addresses, "federal_register_notice": fr, "start_date": start,
            "license_requirement": ALL_EAR, "license_policy": DENIAL, "remarks": remarks,
            "source_list_url": EL_URL, "source_information_url": EL_INFO}


ROWS: list[dict[str, str]] = [
    _el("9c1d0e5f3a7b4c21", "Hangzhou Hikvision Digital Technology Co., Ltd.", "Hikvision",
        "No. 555 Qianmo Road, Binjiang District, Hangzhou, Zhejiang, 310052, CN", "84 FR 54005", "2019-10-09"),
    _el("2b8e4f6a1c3d5e70", "Zhejiang Dahua Technology Co., Ltd.", "Dahua Technology",
        "No. 1199 Bin'an Road, Binjiang District, Hangzhou, Zhejiang, 310053, CN", "84 FR 54005", "2019-10-09"),
    _el("5a3c7e9b2d4f6a81", "Urumqi Municipal Public Security Bureau",
        "Urumqi City Public Security Bureau; Ürümqi Municipal PSB",
        "Urumqi, Xinjiang, CN", "84 FR 54005", "2019-10-09"),
    _el("7d2f4a6c8e1b3d92", "Xinjiang Uighur Autonomous Region (XUAR) People's Government Public Security Bureau",
        "Xinjiang Public Security Department", "Urumqi, Xinjiang, CN", "84 FR 54005", "2019-10-09"),
    _el("3e5a7c9d1f2b4ca3", "Kashgar Prefecture Public Security Bureau", "Kashi Prefecture Public Security Bureau",
        "Kashgar, Xinjiang, CN", "84 FR 54005", "2019-10-09"),
    _el("8f1b3d5e7a9c2eb4", "Beijing Kuangshi Technology Co., Ltd.", "Megvii",
        "Floor 4, Block A, Rongke Information Center, Haidian District, Beijing, CN", "84 FR 54005", "2019-10-09"),
    _el("4c6e8a1b3d5f7ac5", "Beijing SenseTime Technology Development Co., Ltd.", "SenseTime; Shangtang Technology",
        "Haidian District, Beijing, CN", "84 FR 54005", "2019-10-09"),
    _el("6a8c1e3b5d7f9bd6", "iFlytek Co., Ltd.", "IFLYTEK; Anhui USTC iFlytek Co., Ltd.",
        "666 Wangjiang West Road, Hefei, Anhui, CN", "84 FR 54005", "2019-10-09"),
    _el("1d3f5b7a9c2e4ce7", "Yitu Technologies", "Shanghai Yitu Network Technology Co., Ltd.",
        "Shanghai, CN", "84 FR 54005", "2019-10-09"),
    _el("9b2d4f6a8c1e3df8", "Xiamen Meiya Pico Information Co., Ltd.", "Meiya Pico",
        "Xiamen, Fujian, CN", "84 FR 54005", "2019-10-09"),
    _el("2e4a6c8b1d3f5e09", "NSO Group", "NSO Group Technologies Ltd.; Q Cyber Technologies Ltd.",
        "22 Galgalei Haplada Street, Herzliya, IL", "86 FR 60759", "2021-11-04"),
    _el("5f7b9d2c4e6a8f1a", "Candiru", "Saito Tech Ltd.; Grindavik Solutions Ltd.; Taveta Ltd.; Sokoto Ltd.",
        "Tel Aviv, IL", "86 FR 60759", "2021-11-04"),
    _el("8a1c3e5d7f9b2a2b", "Positive Technologies", "AO Positive Technologies; Pozitivnye Tekhnologii",
        "Moscow, RU", "86 FR 60759", "2021-11-04"),
    _el("3b5d7f9e2a4c6b3c", "Computer Security Initiative Consultancy PTE. LTD.", "COSEINC",
        "1 Commonwealth Lane, #07-32, 149544, SG", "86 FR 60759", "2021-11-04"),
    _el("6c8e1a3f5b7d9c4d", "Huawei Technologies Co., Ltd.", "Huawei",
        "Bantian, Longgang District, Shenzhen, Guangdong, 518129, CN", "84 FR 22963", "2019-05-16",
        remarks="See § 744.11(a)(2) for the foreign direct product rule footnote 1 designation."),
    {"_id": "4d6f8b2a1c3e5d5e", "source": SDN, "entity_number": "24097", "type": "Individual",
     "programs": "CYBER2; RUSSIA-EO14024; UKRAINE-EO13661", "name": "Yevgeniy Viktorovich PRIGOZHIN",
     "alt_names": "Evgeny PRIGOZHIN; Evgeniy Viktorovich PRIGOZHIN; Yevgeny PRIGOZHIN",
     "addresses": "St. Petersburg, RU", "dates_of_birth": "1961-06-01", "nationalities": "RU",
     "citizenships": "RU", "places_of_birth": "Leningrad, Russia", "source_list_url": SDN_URL,
     "source_information_url": SDN_INFO, "ids": "RU, Passport 721314398"},
    {"_id": "7e9a2c4b6d8f1e6f", "source": SDN, "entity_number": "15964", "type": "Entity",
     "programs": "RUSSIA-EO14024; UKRAINE-EO13662", "name": "JOINT STOCK COMPANY ROSOBORONEXPORT",
     "alt_names": "ROSOBORONEXPORT; ROSOBORONEKSPORT OAO; JSC ROSOBORONEXPORT",
     "addresses": "27 Stromynka Street, Moscow, 107076, RU", "source_list_url": SDN_URL,
     "source_information_url": SDN_INFO, "ids": "RU, Registration Number 1077758081664"},
    {"_id": "1f3b5d7c9e2a4f70", "source": DPL, "type": "Entity", "name": "Mahan Airways",
     "addresses": "Mahan Tower, No. 21, Azadegan Street, Karaj Highway, Tehran, IR",
     "federal_register_notice": "73 FR 19797", "start_date": "2008-03-17", "end_date": "2025-09-09",
     "standard_order": "N", "remarks": "Temporary denial order, renewed.",
     "source_list_url": "https://www.bis.doc.gov/index.php/policy-guidance/lists-of-parties-of-concern/denied-persons-list",
     "source_information_url": EL_INFO},
]

SOURCES_USED = [
    {"source": EL, "source_last_updated": "2025-03-25T12:00:00-04:00", "last_imported": "2025-03-26T07:00:11-04:00",
     "import_rate": "Hourly"},
    {"source": SDN, "source_last_updated": "2025-03-24T16:30:00-04:00", "last_imported": "2025-03-26T07:00:05-04:00",
     "import_rate": "Hourly"},
    {"source": DPL, "source_last_updated": "2025-02-11T09:00:00-05:00", "last_imported": "2025-03-26T07:00:02-04:00",
     "import_rate": "Hourly"},
]


def full_row(row: dict[str, str]) -> dict[str, str]:
    return {column: row.get(column, "") for column in COLUMNS}


def write_csv(path: Path, rows: list[dict[str, str]] = ROWS, columns: list[str] = COLUMNS) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for row in rows:
            writer.writerow([row.get(column, "") for column in columns])
    return path


def _address_object(text: str) -> dict[str, str]:
    parts = [p.strip() for p in text.split(",")]
    country = parts.pop() if parts and len(parts[-1]) == 2 else ""
    postal = parts.pop() if parts and parts[-1].isdigit() else ""
    city = parts.pop() if parts else ""
    return {"address": ", ".join(parts), "city": city, "state": "", "postal_code": postal, "country": country}


def json_record(row: dict[str, str]) -> dict[str, object]:
    """A CSV row as the JSON download carries it: `id`, lists for multi-valued fields."""
    record: dict[str, object] = {}
    for column in COLUMNS:
        value = row.get(column, "")
        key = "id" if column == "_id" else column
        if column == "alt_names":
            record[key] = [v for v in value.split("; ") if v] or None
        elif column == "addresses":
            record[key] = [_address_object(v) for v in value.split("; ") if v]
        elif column in ("programs", "citizenships", "nationalities", "dates_of_birth", "places_of_birth"):
            record[key] = [v for v in value.split("; ") if v]
        elif column == "ids":
            record[key] = [{"country": v.split(", ")[0], "type": v.split(", ")[1].split(" ")[0],
                            "number": v.split(" ")[-1]} for v in value.split("; ") if v]
        else:
            record[key] = value or None
    return record


def write_json(path: Path, rows: list[dict[str, str]] = ROWS) -> Path:
    body = {"total": len(rows), "sources_used": SOURCES_USED, "results": [json_record(r) for r in rows]}
    path.write_text(json.dumps(body, ensure_ascii=False, indent=1), encoding="utf-8")
    return path


# -- labelled variants: (what a screener types, the listed party's primary name) ------------------

HIKVISION = ROWS[0]["name"]
DAHUA = ROWS[1]["name"]
URUMQI = ROWS[2]["name"]
XUAR = ROWS[3]["name"]
KASHGAR = ROWS[4]["name"]
KUANGSHI = ROWS[5]["name"]
SENSETIME = ROWS[6]["name"]
IFLYTEK = ROWS[7]["name"]
YITU = ROWS[8]["name"]
MEIYA = ROWS[9]["name"]
NSO = ROWS[10]["name"]
CANDIRU = ROWS[11]["name"]
POSITIVE = ROWS[12]["name"]
COSEINC = ROWS[13]["name"]
HUAWEI = ROWS[14]["name"]
PRIGOZHIN = ROWS[15]["name"]
ROSOBORON = ROWS[16]["name"]

VARIANTS: list[tuple[str, str]] = [
    ("Hik Vision", HIKVISION),                                      # spacing
    ("Hikvision Digital Technology", HIKVISION),                    # partial registered name
    ("Hangzhou Haikang Weishi Digital Technology Co", HIKVISION),   # pinyin of the Chinese name
    ("Zhejiang Dahua", DAHUA),                                      # province + brand
    ("Dahua Tech Co., Ltd.", DAHUA),                                # abbreviation
    ("Urumqi PSB", URUMQI),                                         # abbreviation
    ("Public Security Bureau of Urumqi Municipality", URUMQI),      # word order, morphology
    ("Wulumuqi Municipal Public Security Bureau", URUMQI),          # pinyin place name
    ("Ürümqi Public Security Bureau", URUMQI),                      # diacritics, dropped word
    ("Xinjiang Uyghur Autonomous Region Public Security Bureau", XUAR),  # Uighur/Uyghur, shorter
    ("XUAR Public Security Bureau", XUAR),                          # abbreviation
    ("Kashi Public Security Bureau", KASHGAR),                      # pinyin place name
    ("Megvii Technology Limited", KUANGSHI),                        # brand + corporate words
    ("Kuang Shi Technology", KUANGSHI),                             # spacing
    ("Sense Time", SENSETIME),                                      # spacing
    ("Shang Tang Tech", SENSETIME),                                 # spacing + abbreviation
    ("I-Flytek", IFLYTEK),                                          # punctuation
    ("USTC iFlytek", IFLYTEK),                                      # partial alias
    ("Yitu Technology", YITU),                                      # singular/plural
    ("Meiya Pico Information Co.", MEIYA),                          # dropped place name
    ("N.S.O. Group", NSO),                                          # initialism with dots
    ("Q-Cyber Technologies", NSO),                                  # alias, hyphen
    ("Saito Technologies", CANDIRU),                                # alias, expanded abbreviation
    ("Pozitivnyye Tekhnologii", POSITIVE),                          # another Russian romanisation
    ("Positive Technologies JSC", POSITIVE),                        # corporate form
    ("Computer Security Initiative Consultancy", COSEINC),          # no corporate form
    ("Huawei Technologies Company", HUAWEI),                        # corporate word
    ("Prigozhin, Yevgeniy Viktorovich", PRIGOZHIN),                 # surname first
    ("Evgeniy Prigojine", PRIGOZHIN),                               # French transliteration
    ("Rosoboron Export", ROSOBORON),                                # spacing
]

DECOYS: list[str] = [
    "Hangzhou Hikari Optics Co., Ltd.",
    "Zhejiang Uniview Technologies Co., Ltd.",
    "Hangzhou Municipal Public Security Bureau",
    "Urumqi Water Supply Group",
    "Beijing Kuangtong Electronics Co., Ltd.",
    "Sensata Technologies",
    "Positive Energy Technologies Pvt. Ltd.",
    "NSK Group",
    "Axis Communications AB",
    "Bosch Security Systems",
    "Yevgeny Petrov",
    "Candela Corporation",
    "Rostelecom",
    "Xiamen Airlines",
    "Computer Sciences Corporation",
]

# -- a second set, written after the matcher's design was frozen and never used to change it -------
MAHAN = ROWS[17]["name"]

HELD_OUT_VARIANTS: list[tuple[str, str]] = [
    ("HIKVISION DIGITAL TECH. CO. LTD", HIKVISION),
    ("Hangzhou Hik-Vision", HIKVISION),
    ("Dahua Technologies Co Ltd", DAHUA),
    ("Urumchi Public Security Bureau", URUMQI),          # older romanisation
    ("Urumqi City PSB", URUMQI),
    ("Kashgar PSB", KASHGAR),
    ("Megvii Tech", KUANGSHI),
    ("Sensetime Group Limited", SENSETIME),
    ("iFLYTEK Corporation", IFLYTEK),
    ("Anhui iFlytek", IFLYTEK),
    ("Yitu Tech", YITU),
    ("Xiamen Meiya Pico Info Co", MEIYA),
    ("NSO Group Technologies", NSO),
    ("Candiru Ltd", CANDIRU),
    ("Grindavik Solutions", CANDIRU),
    ("Positive Technology", POSITIVE),
    ("Huawei Tech Co", HUAWEI),
    ("Prigozhin Evgeny", PRIGOZHIN),
    ("Yevgenij Prigozin", PRIGOZHIN),
    ("Rosoboronexport JSC", ROSOBORON),
    ("Mahan Air", MAHAN),
]

HELD_OUT_DECOYS: list[str] = [
    "Hangzhou Hualan Microelectronics",
    "Zhejiang Geely Holding Group",
    "Urumqi Municipal Education Bureau",
    "Kashgar Airport",
    "Megger Group",
    "Sensient Technologies",
    "iFixit",
    "Yili Group",
    "Positive Solutions Ltd",
    "Huadian Power International",
    "Evgeny Petrenko",
    "Malaysia Airlines",
    "Roseberry Exports Ltd",
]
