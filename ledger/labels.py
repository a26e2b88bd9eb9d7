"""What each code means to a person, in Chinese and in English (Chinese first: the county's language).

Every code that reaches a person — a visit's kind and services, a status, a reason code, a grade,
a budget line — is stored and served as its stable code (``phone_call``), never as words, so
reports and integrations never break when wording changes. Its words live here, once, for the
API (``?lang=zh|en``), the exports, the claim sheets and the certificates. A test checks that
every member of every code enum of the ledger has both labels.

Families are named by the enum class (``VisitKind``); :func:`label` answers a code's label in a
language, falling back to the code itself for one this catalogue does not know (an old code no
longer in an enum still reads as something).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from ledger.audit_samples import Stratification
from ledger.budgets import BudgetLine
from ledger.claims import ClaimStatus
from ledger.elders import DepartureKind, ElderCategory, ElderStatus, Sex
from ledger.meetings import SuggestionStatus
from ledger.pairings import EndReason
from ledger.policies import CRITERIA_LABELS, GiftBagItem, PolicyKind
from ledger.privacy import ForgetReason, SubjectKind
from ledger.scoring import Grade
from ledger.visits import (
    AmendReason,
    Confirmer,
    ConfirmMethod,
    DisputeReason,
    DistanceBand,
    Service,
    VisitKind,
    VisitStatus,
    VoidReason,
)
from ledger.volunteers import Profession, VolunteerStatus

Lang = Literal["zh", "en"]
LANGS: tuple[Lang, ...] = ("zh", "en")
NOT_RATED = "not_rated"
"""A month with no activity to rate (no grade)."""

LABELS: dict[str, dict[str, tuple[str, str]]] = {
    "VisitKind": {
        VisitKind.MEDICAL: ("医疗服务", "medical care"),
        VisitKind.EMOTIONAL: ("精神慰藉", "emotional care"),
        VisitKind.DAILY_LIVING: ("生活照料", "daily-living help"),
        VisitKind.PHONE_CALL: ("电话问候", "phone call"),
    },
    "Service": {
        Service.BLOOD_PRESSURE: ("测血压", "blood pressure check"),
        Service.BLOOD_GLUCOSE: ("测血糖", "blood glucose check"),
        Service.PULSE: ("测脉搏", "pulse check"),
        Service.MEDICAL_GUIDANCE: ("就医指导", "guidance on seeing a doctor"),
        Service.MEDICINE_PURCHASE: ("代购药品", "buying medicine"),
        Service.HEALTH_ADVICE: ("健康指导", "health advice"),
        Service.FIRST_AID: ("急救处置", "first aid"),
        Service.CHAT: ("聊天谈心", "chat"),
        Service.LISTENING: ("倾听心声", "listening"),
        Service.PSYCHOLOGICAL_SUPPORT: ("心理疏导", "psychological support"),
        Service.CLEANING: ("打扫卫生", "cleaning"),
        Service.READING_NEWSPAPER: ("读书读报", "reading the newspaper"),
        Service.SHOPPING: ("代购生活用品", "shopping"),
    },
    "DistanceBand": {
        DistanceBand.AT_HOME: ("上门", "at home"),
        DistanceBand.WITHIN_500M: ("500米内", "within 500 m"),
        DistanceBand.WITHIN_2KM: ("2公里内", "within 2 km"),
        DistanceBand.BEYOND_2KM: ("2公里以上", "beyond 2 km"),
        DistanceBand.REMOTE: ("远程", "remote"),
    },
    "VisitStatus": {
        VisitStatus.RECORDED: ("已登记", "recorded"),
        VisitStatus.CONFIRMED: ("已确认", "confirmed"),
        VisitStatus.DISPUTED: ("有异议", "disputed"),
        VisitStatus.VOIDED: ("已作废", "voided"),
    },
    "Confirmer": {
        Confirmer.ELDER: ("老人本人", "the elder"),
        Confirmer.FAMILY: ("家属", "the family"),
        Confirmer.COORDINATOR: ("协调员", "the coordinator"),
    },
    "ConfirmMethod": {
        ConfirmMethod.SIGNATURE: ("签字", "signature"),
        ConfirmMethod.PHONE_CALLBACK: ("电话回访", "phone callback"),
        ConfirmMethod.IN_PERSON: ("当面确认", "in person"),
    },
    "DisputeReason": {
        DisputeReason.DID_NOT_HAPPEN: ("未发生", "did not happen"),
        DisputeReason.WRONG_TIME: ("时间不符", "wrong time"),
        DisputeReason.WRONG_SERVICE: ("服务内容不符", "wrong service"),
        DisputeReason.TOO_SHORT: ("时长过短", "too short"),
        DisputeReason.WRONG_PERSON: ("人员不符", "wrong person"),
        DisputeReason.OTHER: ("其他", "other"),
    },
    "AmendReason": {
        AmendReason.TYPO: ("录入笔误", "typo"),
        AmendReason.WRONG_TIME: ("时间有误", "wrong time"),
        AmendReason.WRONG_READING: ("读数有误", "wrong reading"),
        AmendReason.WRONG_KIND: ("类别有误", "wrong kind"),
        AmendReason.WRONG_PLACE: ("地点有误", "wrong place"),
        AmendReason.LATE_DETAIL: ("补充细节", "late detail"),
        AmendReason.OTHER: ("其他", "other"),
    },
    "VoidReason": {
        VoidReason.DUPLICATE: ("重复登记", "duplicate"),
        VoidReason.NOT_PERFORMED: ("未实际开展", "not performed"),
        VoidReason.WRONG_ELDER: ("老人有误", "wrong elder"),
        VoidReason.ENTERED_IN_ERROR: ("误录", "entered in error"),
        VoidReason.FRAUD_SUSPECTED: ("疑似虚报", "fraud suspected"),
    },
    "ClaimStatus": {
        ClaimStatus.SUBMITTED: ("待审批", "submitted"),
        ClaimStatus.APPROVED: ("已审批", "approved"),
        ClaimStatus.REJECTED: ("已退回", "rejected"),
        ClaimStatus.PAID: ("已支付", "paid"),
        ClaimStatus.REVERSED: ("已冲销", "reversed"),
    },
    "BudgetLine": {
        BudgetLine.TRANSPORT: ("交通补贴", "transport subsidy"),
        BudgetLine.COMMUNICATION: ("通讯补贴", "communication subsidy"),
    },
    "Grade": {
        Grade.EXCELLENT: ("优秀", "excellent"),
        Grade.GOOD: ("良好", "good"),
        Grade.PASS: ("合格", "pass"),
        Grade.FAIL: ("不合格", "fail"),
        NOT_RATED: ("未评定（无服务）", "not rated (no activity)"),
    },
    "Sex": {Sex.FEMALE: ("女", "female"), Sex.MALE: ("男", "male")},
    "ElderCategory": {
        ElderCategory.RETIRED_CADRE: ("离退休干部", "retired cadre"),
        ElderCategory.EMPTY_NESTER: ("空巢老人", "empty-nest elder"),
        ElderCategory.DISABLED: ("残疾老人", "elder with a disability"),
        ElderCategory.OTHER: ("其他", "other"),
    },
    "DepartureKind": {
        DepartureKind.DECEASED: ("去世", "deceased"),
        DepartureKind.WITHDRAWN: ("退出", "withdrawn"),
        DepartureKind.MOVED_AWAY: ("迁出", "moved away"),
    },
    "ElderStatus": {ElderStatus.ACTIVE: ("在册", "active"), ElderStatus.DEPARTED: ("已离册", "departed")},
    "EndReason": {
        EndReason.ELDER_DEPARTED: ("老人离册", "the elder departed"),
        EndReason.VOLUNTEER_LEFT: ("志愿者退出", "the volunteer left"),
        EndReason.REASSIGNED: ("重新结对", "reassigned"),
        EndReason.ELDER_REQUEST: ("老人要求", "the elder asked"),
        EndReason.OTHER: ("其他", "other"),
    },
    "PolicyKind": {
        PolicyKind.SUBSIDY: ("补贴标准", "subsidy policy"),
        PolicyKind.SCORING: ("考评办法", "scoring policy"),
        PolicyKind.GIFT_BAG: ("健康福寿袋配置", "health gift bag contents"),
    },
    "EvaluationCriterion": dict(CRITERIA_LABELS),  # the policy's own words for its criteria (ledger.policies)
    "GiftBagItem": {  # what a health gift bag (健康福寿袋) holds (docs/programme.md)
        GiftBagItem.HANDBOOK: ("健康手册", "health handbook"),
        GiftBagItem.HEALTH_BOOK: ("健康书", "health-care book"),
        GiftBagItem.LOCAL_CULTURE_BOOK: ("地方文化书", "local-culture book"),
        GiftBagItem.OTHER_BOOK: ("其他书籍", "other book"),
    },
    "ForgetReason": {
        ForgetReason.PERSON_ASKED: ("本人申请", "the person asked"),
        ForgetReason.CONSENT_WITHDRAWN: ("撤回同意", "consent withdrawn"),
        ForgetReason.RETENTION_ENDED: ("保存期满", "retention period ended"),
        ForgetReason.LEGAL_ORDER: ("依法要求", "legal order"),
    },
    "SubjectKind": {SubjectKind.ELDER: ("老人", "elder"), SubjectKind.VOLUNTEER: ("志愿者", "volunteer")},
    "Profession": {
        Profession.DOCTOR: ("医生", "doctor"),
        Profession.NURSE: ("护士", "nurse"),
        Profession.PHARMACIST: ("药师", "pharmacist"),
        Profession.TECHNICIAN: ("技师", "technician"),
        Profession.OTHER: ("其他", "other"),
    },
    "VolunteerStatus": {
        VolunteerStatus.ACTIVE: ("在岗", "active"),
        VolunteerStatus.SUSPENDED: ("暂停", "suspended"),
        VolunteerStatus.RETIRED: ("已退出", "retired"),
    },
    "SuggestionStatus": {
        SuggestionStatus.OPEN: ("待答复", "open"),
        SuggestionStatus.ADOPTED: ("已采纳", "adopted"),
        SuggestionStatus.DECLINED: ("未采纳", "declined"),
        SuggestionStatus.NOTED: ("已记录", "noted"),
    },
    "Stratification": {
        Stratification.TOWNSHIP: ("按乡镇分层", "by township"),
        Stratification.AMOUNT: ("按金额分层", "by amount"),
    },
    "AnomalyRule": {
        "A01": ("报销的服务未经确认", "visit claimed but not confirmed"),
        "A02": ("同一服务重复报销", "visit claimed twice"),
        "A03": ("服务时无有效结对", "visit with no active pairing at its time"),
        "A04": ("老人离册后的服务", "visit after the elder departed"),
        "A05": ("同一志愿者服务时间重叠", "overlapping visits by one volunteer"),
        "A06": ("服务时长不足5分钟或超过8小时", "visit under 5 minutes or over 8 hours"),
        "A07": ("申领人自批申领", "claim approved by its submitter"),
        "A08": (
            "已支付申领中的服务事后作废或有异议且未冲销",
            "paid claim whose visit was later voided or disputed and not reversed",
        ),
        "A09": ("预算科目超额承诺", "budget line over-committed"),
        "A10": ("服务发生30天后才登记", "visit recorded more than 30 days after it happened"),
        "A11": (
            "服务地点与老人登记乡镇不符且未经协调员确认",
            "visit recorded in a township other than the elder's registered one, not confirmed by a coordinator",
        ),
    },
}
"""Each family (an enum's name, or ``AnomalyRule`` for the audit's rules) → code → (Chinese, English)."""


def label(family: str | type[StrEnum], code: str, lang: Lang = "zh") -> str:
    """The code's label in ``lang`` (the code itself if the catalogue does not know it)."""
    name = family if isinstance(family, str) else family.__name__
    found = LABELS.get(name, {}).get(str(code))
    if found is None:
        return str(code)
    return found[0] if lang == "zh" else found[1]


def catalogue(lang: Lang) -> dict[str, dict[str, str]]:
    """Every family's codes and their labels in one language."""
    return {
        family: {str(code): words[LANGS.index(lang)] for code, words in codes.items()}
        for family, codes in LABELS.items()
    }
