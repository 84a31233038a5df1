"""The demo's sample workspace: about 200 prospects (English and Chinese names, partners and creators, some
without messaging), more partners in the marketplace, and a few ads. Written as the CSV and JSON Lines files a
real user would import, so the demo goes through the real import."""

from __future__ import annotations

import csv
import io
import json
import random

FIRST_EN = [
    "Olivia",
    "Liam",
    "Emma",
    "Noah",
    "Ava",
    "Mason",
    "Sophia",
    "Lucas",
    "Mia",
    "Ethan",
    "Chloe",
    "Leo",
]
LAST_EN = ["Smith", "Johnson", "Brown", "Garcia", "Miller", "Davis", "Wilson", "Moore", "Taylor", "Clark"]
FIRST_ZH = ["伟", "芳", "娜", "敏", "静", "磊", "洋", "艳", "勇", "杰", "娟", "涛"]
LAST_ZH = ["王", "李", "张", "刘", "陈", "杨", "黄", "赵", "周", "吴"]
COMPANY_EN = ["Media", "Deals", "Reviews", "Coupons", "Insider", "Daily", "Hub", "Studio", "Network", "Lab"]
TOPIC_EN = ["Outdoor", "Tech", "Family", "Travel", "Fashion", "Gadget", "Home", "Fitness", "Beauty", "Food"]
COMPANY_ZH = ["优选", "测评", "折扣", "生活", "数码", "旅行", "美食", "时尚"]
COUNTRIES = ["US", "GB", "DE", "FR", "CN", "CN", "SG", "AU", "CA", "JP"]
CATEGORIES = ["Deals", "Content", "Loyalty", "Social", "Email", "Video"]

PROSPECTS = 200
MARKETPLACE_ONLY = 60
COLUMNS = [
    "mpid",
    "mpname",
    "first_name",
    "last_name",
    "email",
    "kind",
    "messaging_enabled",
    "prospect",
    "country",
    "website",
    "categories",
]


def partners_csv(seed: int = 2038) -> bytes:
    rng = random.Random(seed)  # noqa: S311 (sample data, not security)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    for i in range(PROSPECTS + MARKETPLACE_ONLY):
        chinese = i % 3 == 2
        if chinese:
            first, last = rng.choice(FIRST_ZH), rng.choice(LAST_ZH)
            company = f"{last}{first}{rng.choice(COMPANY_ZH)}"
            country = "CN"
            local = f"{['wang', 'li', 'zhang', 'liu', 'chen'][i % 5]}{i}"
        else:
            first, last = rng.choice(FIRST_EN), rng.choice(LAST_EN)
            company = f"{rng.choice(TOPIC_EN)} {rng.choice(COMPANY_EN)}"
            country = rng.choice(COUNTRIES)
            local = f"{first.lower()}.{last.lower()}{i}"
        if i % 17 == 16:
            first = ""  # a few without a first name: {firstName} would render empty for them
        domain = f"partner{i}.example.com"
        writer.writerow(
            [
                f"{100000 + i}",
                company,
                first,
                last,
                f"{local}@{domain}" if i % 23 != 22 else "",  # a few without an address
                "creator" if i % 4 == 3 else "partner",
                "true" if i % 3 != 1 else "false",
                "true" if i < PROSPECTS else "false",
                country,
                f"https://www.{domain}",
                ";".join(rng.sample(CATEGORIES, 2)),
            ]
        )
    return out.getvalue().encode("utf-8-sig")


ADS = [
    {
        "adid": "1122330",
        "name": "Winter Sale — 30% off outerwear",
        "ad_type": "text-link",
        "landing_url": "https://shop.example.com/winter",
        "creative": "Shop the winter sale",
    },
    {
        "adid": "1122331",
        "name": "Spring Collection banner",
        "ad_type": "banner",
        "landing_url": "https://shop.example.com/spring",
        "creative": "https://cdn.example.com/spring.png 300x250",
    },
    {
        "adid": "1122332",
        "name": "Free shipping over $50",
        "ad_type": "text-link",
        "landing_url": "https://shop.example.com/shipping",
        "creative": "Free shipping",
    },
]


def ads_jsonl() -> bytes:
    return "".join(json.dumps(ad, ensure_ascii=False) + "\n" for ad in ADS).encode()
