"""The people of a demo county (elders, volunteers, their units, who serves whom) and what they say.

Everything here is fake and drawn from a ``random.Random`` the caller seeds: names from small
lists of surnames and given-name characters, addresses from village and road names, phone
numbers from mobile prefixes and the county's area code, the services, readings, notes and
feedback of a visit, the training courses and evaluation scores. Pure functions, no ledger.

Shape of a county (the home county, 涟水县): 429 elders aged 78 to 102 over the county's townships
(the county seat, its first township, larger; the two parks smaller); 60 volunteers from the
county's hospitals and the township health centres, mostly doctors and nurses; each township
has its own team of volunteers, split into groups of at most three (``高沟镇第1组``), and its
elders are shared round-robin among that team, so no volunteer serves more than
:data:`SOFT_CAP` elders. A volunteer from a county-level unit lives in the county seat and
travels to the township it serves; one from a township health centre lives where it serves.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from ledger.policies import DEFAULT_PARAMETERS, PolicyKind, evaluation_criteria
from ledger.visits import DAILY_LIVING, EMOTIONAL, MEDICAL, PHONE_CALL

ELDER_COUNT = 429
VOLUNTEER_COUNT = 60
YOUNGEST, OLDEST = 78, 102
SOFT_CAP = 9
"""Most elders a volunteer is given at launch: one below the policy's cap, so an elder can be
reassigned to any volunteer later without refusal."""
GROUP_SIZE = 3

SURNAMES = (
    "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董程曹袁邓许傅沈曾彭吕"
    "苏卢蒋蔡贾丁魏薛叶余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史顾侯邵孟"
)
OLD_MALE = "德建国华明志文荣清春福保正学忠仁义成发贵长永庆海振兴万树立家祥宝金有才"
OLD_FEMALE = "秀英兰珍芳桂凤玉梅淑琴云华月翠菊荣爱素娟玲香霞莲"
YOUNG_MALE = "伟磊杰涛浩宇鹏晨俊峰辉斌健亮超勇强军飞博"
YOUNG_FEMALE = "静婷丽敏欣悦雪娜倩颖琳燕慧佳怡璐洁晶蕾萍"
MOBILE_PREFIXES = ("133", "135", "137", "138", "139", "150", "151", "152", "157", "158", "159", "180", "182", "187")
AREA_CODE = "0517"
SEAT_ROADS = ("安东路", "涟州路", "红日大道", "五岛湖路", "淮海路", "健康路", "交通路", "幸福路", "北京路", "黄河路")
SEAT_ESTATES = ("阳光", "幸福", "金城", "书香", "东方", "锦绣", "滨河", "和平")
VILLAGE_FIRST = "新王张刘河东西南北前后大小长高双三五义仁"
VILLAGE_SECOND = "庄集桥圩河湾营沟港墩岗洼滩埝"
ELDER_NOTES = (
    "独居，子女在外地",
    "与老伴同住",
    "患高血压多年，按时服药",
    "有糖尿病史，需定期测血糖",
    "听力较差，电话请联系家属",
    "行动不便，需上门服务",
    "曾患脑梗，恢复中",
    "",
    "",
    "",
)
COUNTY_UNITS = ("{county}人民医院", "{county}中医院", "{county}妇幼保健院", "{county}疾病预防控制中心")
PROFESSION_SHARES = (("doctor", 27), ("nurse", 24), ("pharmacist", 5), ("technician", 4))


@dataclass(frozen=True)
class ElderSeed:
    name: str
    birth_date: date
    sex: str
    township: str
    address: str
    phone: str
    notes: str


@dataclass(frozen=True)
class VolunteerSeed:
    name: str
    unit: str
    profession: str
    phone: str
    township: str
    """Where the volunteer lives (its unit's township)."""
    serves: str
    """The township whose elders it is paired with."""
    group: str


def person_name(rng: random.Random, sex: str, *, young: bool) -> str:
    male, female = (YOUNG_MALE, YOUNG_FEMALE) if young else (OLD_MALE, OLD_FEMALE)
    chars = male if sex == "male" else female
    given = rng.choice(chars) + (rng.choice(chars) if rng.random() < 0.7 else "")
    return rng.choice(SURNAMES) + given


def mobile(rng: random.Random) -> str:
    return rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}"


def landline(rng: random.Random) -> str:
    return f"{AREA_CODE}-8{rng.randrange(10**7):07d}"


def address(rng: random.Random, township: str, seat: str) -> str:
    if township == seat:
        if rng.random() < 0.5:
            return f"{township}{rng.choice(SEAT_ROADS)}{rng.randint(1, 300)}号"
        room = f"{rng.randint(1, 6)}0{rng.randint(1, 4)}室"
        return f"{township}{rng.choice(SEAT_ESTATES)}小区{rng.randint(1, 30)}幢{rng.randint(1, 3)}单元{room}"
    if township.endswith(("镇", "乡")):
        village = rng.choice(VILLAGE_FIRST) + rng.choice(VILLAGE_SECOND)
        return f"{township}{village}村{rng.randint(1, 12)}组{rng.randint(1, 60)}号"
    return f"{township}{rng.choice(SEAT_ESTATES)}社区{rng.randint(1, 20)}幢{rng.randint(101, 602)}室"


def share_out(total: int, weights: list[float], minimum: int) -> list[int]:
    """Split ``total`` in proportion to ``weights`` (largest remainder), each at least ``minimum``."""
    spare = total - minimum * len(weights)
    exact = [spare * w / sum(weights) for w in weights]
    counts = [int(x) for x in exact]
    by_remainder = sorted(range(len(weights)), key=lambda i: (counts[i] - exact[i], i))
    for i in by_remainder[: spare - sum(counts)]:
        counts[i] += 1
    return [c + minimum for c in counts]


def township_sizes(rng: random.Random, townships: list[str]) -> dict[str, int]:
    """Elders per township: the seat about three times a township, the two parks half of one."""
    weights = [3.0] + [rng.uniform(0.7, 1.3) for _ in townships[1:-2]] + [0.5, 0.5]
    return dict(zip(townships, share_out(ELDER_COUNT, weights, 5), strict=True))


def make_elders(rng: random.Random, townships: list[str], as_of: date) -> list[ElderSeed]:
    sizes = township_sizes(rng, townships)
    places = [t for t in townships for _ in range(sizes[t])]
    rng.shuffle(places)
    ages = [OLDEST, YOUNGEST] + [round(rng.triangular(YOUNGEST, OLDEST, 90)) for _ in places[2:]]
    return [make_elder(rng, township, age, townships[0], as_of) for township, age in zip(places, ages, strict=True)]


def make_elder(rng: random.Random, township: str, age: int, seat: str, as_of: date) -> ElderSeed:
    sex = "male" if rng.random() < 0.7 else "female"
    latest = date(as_of.year - age, as_of.month, min(as_of.day, 28))
    birth = date.fromordinal(latest.toordinal() - rng.randrange(360))
    return ElderSeed(
        name=person_name(rng, sex, young=False),
        birth_date=birth,
        sex=sex,
        township=township,
        address=address(rng, township, seat),
        phone=landline(rng) if rng.random() < 0.5 else mobile(rng),
        notes=rng.choice(ELDER_NOTES),
    )


def team_sizes(elders: list[ElderSeed], townships: list[str]) -> dict[str, int]:
    """Volunteers per township, in proportion to its elders, none over :data:`SOFT_CAP` elders.

    Some seeds scatter the elders so that 60 volunteers cannot keep every team under the soft
    cap; then the policy's own cap (one more) is used, which the pairings still respect.
    """
    counts = {t: sum(e.township == t for e in elders) for t in townships}
    for cap in (SOFT_CAP, SOFT_CAP + 1):
        teams = balanced_teams(counts, townships, cap)
        if teams is not None:
            return teams
    raise ValueError(f"{VOLUNTEER_COUNT} volunteers cannot serve these elders at {SOFT_CAP + 1} each")


def balanced_teams(counts: dict[str, int], townships: list[str], cap: int) -> dict[str, int] | None:
    """Move volunteers from townships with room to spare until no team serves over ``cap`` each."""
    teams = dict(zip(townships, share_out(VOLUNTEER_COUNT, [counts[t] for t in townships], 1), strict=True))
    while True:
        short = [t for t in townships if counts[t] > cap * teams[t]]
        if not short:
            return teams
        donors = [t for t in townships if teams[t] > 1 and cap * (teams[t] - 1) >= counts[t]]
        if not donors:
            return None
        donor = max(donors, key=lambda t: (cap * (teams[t] - 1) - counts[t], t))
        teams[donor] -= 1
        teams[short[0]] += 1


def unit_for(rng: random.Random, county_name: str, serves: str, seat: str, first: bool) -> tuple[str, str]:
    """(unit, home township): the township's own health centre or a county-level unit in the seat."""
    if serves != seat and (first or rng.random() < 0.5):
        centre = "卫生院" if serves.endswith(("镇", "乡")) else "社区卫生服务中心"
        return f"{serves}{centre}", serves
    if serves == seat and rng.random() < 0.25:
        return f"{seat}社区卫生服务中心", seat
    return rng.choice(COUNTY_UNITS).format(county=county_name), seat


def make_volunteers(
    rng: random.Random, county_name: str, townships: list[str], teams: dict[str, int]
) -> list[VolunteerSeed]:
    professions = [p for p, n in PROFESSION_SHARES for _ in range(n)]
    rng.shuffle(professions)
    seat = townships[0]
    volunteers: list[VolunteerSeed] = []
    for township in townships:
        for i in range(teams[township]):
            unit, home = unit_for(rng, county_name, township, seat, first=i == 0)
            profession = professions[len(volunteers)]
            sex = "female" if rng.random() < (0.9 if profession == "nurse" else 0.4) else "male"
            volunteers.append(
                VolunteerSeed(
                    name=person_name(rng, sex, young=True),
                    unit=unit,
                    profession=profession,
                    phone=mobile(rng),
                    township=home,
                    serves=township,
                    group=f"{township}第{i // GROUP_SIZE + 1}组",
                )
            )
    return volunteers


def pair_up(rng: random.Random, elders: list[ElderSeed], volunteers: list[VolunteerSeed]) -> list[int]:
    """The volunteer (index) of each elder: the township's team, round-robin."""
    serving = [0] * len(elders)
    for township in dict.fromkeys(v.serves for v in volunteers):
        team = [i for i, v in enumerate(volunteers) if v.serves == township]
        mine = [i for i, e in enumerate(elders) if e.township == township]
        rng.shuffle(mine)
        for n, elder in enumerate(mine):
            serving[elder] = team[n % len(team)]
    return serving


# What a visit holds, and what people say about it --------------------------------------------

SERVICE_CHOICES = {
    EMOTIONAL: ("chat", "listening", "psychological_support", "reading_newspaper"),
    DAILY_LIVING: ("cleaning", "reading_newspaper", "shopping", "chat"),
    PHONE_CALL: ("chat", "listening", "health_advice", "psychological_support"),
}
HOME_CONFIRMATIONS = (
    (("elder", "signature"),) * 5
    + (("family", "signature"), ("family", "in_person"))
    + (("coordinator", "phone_callback"),) * 2
)
PHONE_CONFIRMATIONS = (("elder", "phone_callback"), ("family", "phone_callback"), ("coordinator", "phone_callback"))
RATINGS = (5,) * 30 + (4,) * 15 + (3,) * 4 + (2,)
FEEDBACK = ("", "", "服务很细心", "像自己的孩子一样贴心", "量血压很耐心，谢谢", "希望以后多来看看")
VISIT_NOTES = ("", "", "", "老人精神状态良好", "提醒按时服药", "血压偏高，建议复诊", "陪老人聊天，情绪稳定", "家属在场")
GIFT_NOTE = "赠送健康福寿袋"
DISPUTES = ("wrong_time", "too_short", "wrong_service")
DISPUTE_COMMENT = "家属反映与记录不符"
COURSES = (
    ("老年常见慢病居家管理", date(2025, 3, 15), Decimal(4)),
    ("心肺复苏与急救技能", date(2025, 4, 19), Decimal(6)),
    ("老年心理关怀与沟通技巧", date(2025, 6, 14), Decimal(3)),
    ("安全用药与用药指导", date(2025, 8, 16), Decimal(2)),
    ("居家防跌倒与康复护理", date(2025, 9, 20), Decimal(5)),
    ("志愿服务记录规范", date(2025, 11, 15), Decimal("2.5")),
)
"""The county health bureau's training courses of the year: name, date, hours."""
CRITERIA = tuple(c.name for c in evaluation_criteria(DEFAULT_PARAMETERS[PolicyKind.SCORING]))
"""The evaluation method's criteria (the demo's policy is version 1, the defaults): an evaluation scores each."""
EVALUATION_COMMENTS = ("", "服务态度好，老人满意", "记录规范及时", "专业能力强", "需加强电话回访")


def services(rng: random.Random, kind: str) -> list[str]:
    if kind == MEDICAL:
        measured = ["blood_pressure", "pulse"] + (["blood_glucose"] if rng.random() < 0.5 else [])
        return measured + rng.sample(("medical_guidance", "health_advice", "medicine_purchase"), rng.randint(1, 2))
    return rng.sample(SERVICE_CHOICES[kind], rng.randint(1, 2 if kind == PHONE_CALL else 3))


def readings(rng: random.Random, given: list[str]) -> dict[str, Decimal]:
    """Blood pressure and pulse, and glucose if measured: an old person's plausible values."""
    values = {}
    if "blood_pressure" in given:
        systolic = rng.randint(110, 170)
        values["systolic"] = Decimal(systolic)
        values["diastolic"] = Decimal(rng.randint(60, min(100, systolic - 25)))
        values["pulse"] = Decimal(rng.randint(58, 98))
    if "blood_glucose" in given:
        values["glucose_mmol_l"] = Decimal(rng.randint(45, 115)).scaleb(-1)
    return values


def travel_km(rng: random.Random, far: bool) -> Decimal:
    """From the volunteer's home township: a few km within it, 8 to 35 km from the county seat."""
    return Decimal(rng.randint(80, 350) if far else rng.randint(5, 80)).scaleb(-1)


def evaluation_scores(rng: random.Random, quality: int) -> dict[str, int]:
    return {criterion: min(100, quality + rng.randint(-6, 6)) for criterion in CRITERIA}
