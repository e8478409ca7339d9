"""Map export column names to canonical names, and decide each table's role (customers, events, surveys).

Names are compared as keys: lower case, accents removed, everything but letters and digits dropped, so
"Customer ID", "customerID" and "customer_id" are the same key. Within a canonical name, aliases are listed
from most to least specific; an earlier alias wins over a later one.
"""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from collections.abc import Mapping

from churnwhy.errors import MappingError

ALIASES: dict[str, tuple[str, ...]] = {
    "customer_id": (
        "customerid", "custid", "customernumber", "customerno", "customernr", "custno", "custnumber",
        "customerref", "customerreference", "customerkey", "customercode", "clientid", "clientnumber", "clientno",
        "accountid", "accountnumber", "accountno", "acctid", "acctno", "memberid", "membernumber",
        "subscriberid", "subscriptionid", "userid", "contactid", "buyerid", "shopperid",
    ),
    "signup_date": (
        "signupdate", "signup", "signedup", "signedupat", "signupat", "joindate", "joinedat", "joineddate", "joined",
        "registrationdate", "registeredat", "registered", "customersince", "membersince", "subscriptionstart",
        "subscriptionstartdate", "startdate", "startedat", "start", "createdat", "createddate", "creationdate",
        "created", "accountcreated", "dateopened", "opendate", "openedat", "activationdate", "activatedat",
        "firstorderdate",
    ),
    "churn_date": (
        "churndate", "churnedat", "churnedon", "cancellationdate", "cancelledat", "canceledat", "cancelledon",
        "canceledon", "canceldate", "cancelleddate", "canceleddate", "terminationdate", "terminatedat",
        "closedat", "closedate", "closeddate", "dateclosed", "leftat", "leftdate", "leavedate", "exitdate",
        "subscriptionend", "subscriptionenddate", "enddate", "endedat", "end",
    ),
    "churned": (
        "churned", "churn", "churnlabel", "churnflag", "churnvalue", "churnstatus", "ischurned", "haschurned",
        "churnyn", "exited", "attrited", "attrition", "attritionflag", "cancelled", "canceled", "left",
    ),
    "status": ("customerstatus", "accountstatus", "subscriptionstatus", "memberstatus", "status"),
    "tenure": (
        "tenuredays", "tenureindays", "tenuremonths", "tenureinmonths", "tenureweeks", "tenureinweeks",
        "tenureyears", "tenureinyears", "monthsactive", "monthsascustomer", "monthsonbook", "daysactive",
        "lifetimedays", "tenure",
    ),
    "event_time": (
        "eventtime", "eventdatetime", "eventtimestamp", "eventdate", "eventat", "occurredat", "happenedat",
        "loggedat", "orderdate", "orderedat", "ordertime", "orderdatetime", "purchasedate", "purchasedat",
        "transactiondate", "transactiontime", "transactiondatetime", "ticketdate", "invoicedate", "paymentdate",
        "timestamp", "datetime", "ts", "time", "date", "createdat", "created",
    ),
    "event_type": (
        "eventtype", "eventname", "event", "activitytype", "activity", "actiontype", "action", "type", "kind",
    ),
    "amount": (
        "amount", "ordervalue", "ordertotal", "orderamount", "totalamount", "total", "netamount", "grossamount",
        "transactionamount", "value", "revenue", "spend", "sales", "price", "amountusd", "amounteur", "amountgbp",
    ),
    "survey_date": (
        "surveydate", "responsedate", "respondedat", "submittedat", "submissiondate", "submitted", "answeredat",
        "completedat", "completiondate", "feedbackdate", "timestamp", "date", "createdat", "created",
    ),
    "score": (
        "npsscore", "nps", "csatscore", "csat", "satisfactionscore", "satisfaction", "score", "rating",
        "likelihoodtorecommend", "recommendscore", "howlikelyareyoutorecommendus",
    ),
    "reason_code": (
        "reasoncode", "churnreasoncode", "cancelreasoncode", "cancellationreasoncode", "exitreasoncode",
        "churncategory", "reasoncategory", "cancelcategory",
    ),
    "reason_text": (
        "churnreason", "cancelreason", "cancellationreason", "reasonforleaving", "reasonforcancellation",
        "reasonforcancelling", "exitreason", "leavingreason", "whydidyouleave", "whydidyoucancel",
        "whyareyouleaving", "reason", "comment", "comments", "feedback", "verbatim", "freetext", "remarks",
        "response", "answer",
    ),
    "competitor": ("competitor", "competitorname", "switchedto", "newprovider", "movedto", "leftfor"),
    # Identifiers other systems key people by; linked through a customers file that holds them too.
    "email": ("email", "emailaddress", "mail", "customeremail", "contactemail"),
    "phone": ("phone", "phonenumber", "mobile", "mobilenumber", "telephone", "tel", "cellphone"),
    "card_number": ("cardnumber", "loyaltycard", "loyaltycardnumber", "cardno", "loyaltyid", "membercard"),
    "handle": ("handle", "socialhandle", "twitter", "twitterhandle", "instagram", "instagramhandle"),
}
# A canonical name is always its own first alias ("reason_text" -> reasontext).
ALIASES = {canon: (canon.replace("_", ""), *(a for a in aliases if a != canon.replace("_", ""))) for canon, aliases in ALIASES.items()}
LINK_KEYS = ("email", "phone", "card_number", "handle")
# What a role may hold. A bare "id" counts as the customer id only in a customers table.
ROLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "customers": ("customer_id", "signup_date", "churn_date", "churned", "status", "tenure", "score",
                  "reason_code", "reason_text", "competitor", *LINK_KEYS),
    "events": ("customer_id", "event_time", "event_type", "amount", *LINK_KEYS),
    "surveys": ("customer_id", "survey_date", "score", "reason_code", "reason_text", "competitor", *LINK_KEYS),
}
CUSTOMER_SIGNALS = ("signup_date", "churn_date", "churned", "status", "tenure")
SURVEY_SIGNALS = ("score", "reason_code", "reason_text", "competitor")
NAME_HINTS: dict[str, re.Pattern[str]] = {
    "surveys": re.compile(r"survey|nps|csat|feedback|exit|response|review|cancel[_ -]?form|questionnaire", re.I),
    "events": re.compile(r"event|activit|order|transaction|purchase|deliver|ticket|log|click|session|payment|usage", re.I),
    "customers": re.compile(r"customer|client|account|member|subscri|crm|demograph|user|plan|contract|service", re.I),
}
# Keys that name another table's row, never the customer: "Order ID", "Service ID", "Location ID"...
FOREIGN_ID = re.compile(r"^(order|service|location|product|ticket|event|transaction|invoice|session|survey|"
                        r"response|delivery|shipment|item|sku|store|agent|campaign|payment|line|row|record)(id|no|number|nr|key)$")


def key(name: str) -> str:
    """'Customer ID' -> 'customerid'; 'Région' -> 'region'."""
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]", "", plain.lower())


@dataclasses.dataclass(frozen=True)
class TableMapping:
    role: str
    columns: Mapping[str, str]  # canonical -> source column
    role_reason: str  # why this role, for `inspect`
    extra: tuple[str, ...] = ()  # source columns not mapped (segment candidates in a customers table)


def guess_role(name: str, columns: tuple[str, ...]) -> tuple[str, str]:
    """(role, reason) from the columns first, the file name second."""
    keys = {key(c) for c in columns}
    found = {canon for canon, aliases in ALIASES.items() if keys & set(aliases)}
    scores = {
        "customers": 2.0 * len(found & set(CUSTOMER_SIGNALS)),
        "events": 2.0 * ("event_type" in found) + 1.5 * bool(keys & _specific_event_time()) + 0.5 * ("amount" in found),
        "surveys": 1.5 * len(found & set(SURVEY_SIGNALS)),
    }
    stem = name.rsplit("/", 1)[-1]
    for role, pattern in NAME_HINTS.items():
        if pattern.search(stem):
            scores[role] += 1.0
            break
    role = max(scores, key=lambda r: (scores[r], r == "customers"))
    if scores[role] == 0:
        return "customers", "no event or survey columns: read as customer attributes"
    signals = {"customers": found & set(CUSTOMER_SIGNALS), "events": found & {"event_type", "event_time", "amount"},
               "surveys": found & set(SURVEY_SIGNALS)}[role]
    return role, ("columns " + ", ".join(sorted(signals)) if signals else "file name")


def _specific_event_time() -> set[str]:
    generic = {"timestamp", "datetime", "ts", "time", "date", "createdat", "created"}
    return set(ALIASES["event_time"]) - generic


def map_columns(
    name: str, role: str, columns: tuple[str, ...], overrides: Mapping[str, str], role_reason: str = ""
) -> TableMapping:
    """Canonical -> source column for one table. `overrides` (from churnwhy.toml) win over aliases."""
    allowed = ROLE_COLUMNS[role]
    mapping: dict[str, str] = {}
    for canon, source in overrides.items():
        if canon not in ALIASES and canon not in ("customer_id",):
            continue  # segment renames etc. are handled by the caller
        if source in columns and canon in allowed:
            mapping[canon] = source
    taken = set(mapping.values())
    by_key: dict[str, list[str]] = {}
    for col in columns:
        by_key.setdefault(key(col), []).append(col)
    for canon in allowed:
        if canon in mapping:
            continue
        for alias in ALIASES[canon]:
            hits = [c for c in by_key.get(alias, []) if c not in taken]
            if len(hits) > 1:
                raise MappingError(
                    f"{name}: columns {', '.join(repr(h) for h in hits)} could each be the {canon}",
                    hint=f'add to churnwhy.toml:  [columns."{name}"]  {canon} = "{hits[0]}"',
                )
            if hits:
                mapping[canon] = hits[0]
                taken.add(hits[0])
                break
    if "customer_id" not in mapping and role == "customers":
        bare = [c for c in columns if key(c) in ("id", "customer", "client", "account") and c not in taken]
        if bare:
            mapping["customer_id"] = bare[0]
            taken.add(bare[0])
    extra = tuple(c for c in columns if c not in taken and not FOREIGN_ID.match(key(c)))
    return TableMapping(role, mapping, role_reason, extra)
