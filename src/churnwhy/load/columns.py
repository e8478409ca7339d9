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
        "subscriberid", "subscriptionid", "userid", "contactid", "buyerid", "shopperid", "clientnum", "custnum",
        "customernum", "accountnum", "membernum", "memberno", "subscribernumber", "usernumber",
    ),
    "signup_date": (
        "signupdate", "signup", "signedup", "signedupat", "signupat", "joindate", "joinedat", "joineddate", "joined",
        "registrationdate", "registeredat", "registered", "customersince", "membersince", "subscriptionstart",
        "subscriptionstartdate", "startdate", "startedat", "start", "createdat", "createddate", "creationdate",
        "created", "accountcreated", "dateopened", "opendate", "openedat", "activationdate", "activatedat",
        "firstorderdate", "joinedon", "datejoined", "openedon", "activatedon", "createdon", "startedon", "signedupon",
        "registeredon", "registrationdate", "enrolledon", "enrollmentdate", "enrolmentdate", "firstorder",
        "firstorderon", "firstpurchasedate", "accountopened", "accountopenedon", "customersincedate",
    ),
    "churn_date": (
        "churndate", "churnedat", "churnedon", "cancellationdate", "cancelledat", "canceledat", "cancelledon",
        "canceledon", "canceldate", "cancelleddate", "canceleddate", "terminationdate", "terminatedat",
        "closedat", "closedate", "closeddate", "dateclosed", "leftat", "leftdate", "leavedate", "exitdate",
        "subscriptionend", "subscriptionenddate", "enddate", "endedat", "end", "closedon", "terminatedon",
        "endedon", "lefton", "deactivatedat", "deactivatedon", "deactivationdate", "dateleft", "datecancelled",
        "datecanceled", "dateterminated", "accountclosed", "accountclosedon", "cancellationdateon",
    ),
    "churned": (
        "churned", "churn", "churnlabel", "churnflag", "churnvalue", "churnstatus", "ischurned", "haschurned",
        "churnyn", "exited", "attrited", "attrition", "attritionflag", "cancelled", "canceled", "left", "ischurn",
        "isattrited", "isexited", "hasexited", "iscancelled", "iscanceled",
    ),
    "status": ("customerstatus", "accountstatus", "subscriptionstatus", "memberstatus", "status"),
    "tenure": (
        "tenuredays", "tenureindays", "tenuremonths", "tenureinmonths", "tenureweeks", "tenureinweeks",
        "tenureyears", "tenureinyears", "monthsactive", "monthsascustomer", "monthsonbook", "daysactive",
        "lifetimedays", "tenure", "accountlength", "accountage", "subscriptionlength", "lengthofservice",
        "lengthofrelationship", "monthssubscribed", "monthswithcompany", "yearswithcompany", "yearsascustomer",
        "customertenure",
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
        "transactionamount", "amountpaid", "paidamount", "dollarvalue", "dollaramount", "revenue", "spend", "sales",
        "price", "amountusd", "amounteur", "amountgbp", "charge", "charges", "value",
    ),
    "survey_date": (
        "surveydate", "responsedate", "respondedat", "submittedat", "submissiondate", "submitted", "answeredat",
        "completedat", "completiondate", "feedbackdate", "timestamp", "date", "createdat", "created",
    ),
    "score": (
        "npsscore", "nps", "csatscore", "csat", "satisfactionscore", "satisfaction", "score", "rating",
        "likelihoodtorecommend", "recommendscore", "howlikelyareyoutorecommendus", "netpromoterscore",
        "customersatisfaction", "customersatisfactionscore", "recommendlikelihood",
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


# A unit or scale written after the name: "Likelihood to recommend (0-10)", "Tenure [months]", "NPS - 0 to 10".
_SUFFIX = re.compile(r"\s*(\([^)]*\)|\[[^\]]*\]|[-:]\s*\d+\s*(-|to)\s*\d+)\s*$")


def keys(name: str) -> tuple[str, ...]:
    """The keys a column name is matched by: the whole name, then the name without a trailing unit or scale."""
    whole = key(name)
    bare = key(_SUFFIX.sub("", name))
    return (whole, bare) if bare and bare != whole else (whole,)


# Names that say "customer" outright beat other id-like names (account, user, member...) in one file.
CUSTOMER_WORD = re.compile(r"^(customer|cust)")
# Words inside a longer name that make a column a survey score ("Overall NPS", "csat_q3").
SCORE_WORDS = re.compile(r"nps|csat|netpromoter|likelihoodtorecommend|likelytorecommend")
# Amount columns are often named "<something> amount paid", "<something> price": matched at the end of the key,
# in ALIASES["amount"]'s order (the amount paid before the list price).
AMOUNT_SUFFIXES = ("amountpaid", "paidamount", "dollarvalue", "amount", "revenue", "total", "value", "price",
                   "charge", "charges", "spend", "sales")


@dataclasses.dataclass(frozen=True)
class TableMapping:
    role: str
    columns: Mapping[str, str]  # canonical -> source column
    role_reason: str  # why this role, for `inspect`
    extra: tuple[str, ...] = ()  # source columns not mapped (segment candidates in a customers table)
    row_ids: bool = False  # a customers table with no id column: each row is a customer (load.roles)


def guess_role(name: str, columns: tuple[str, ...]) -> tuple[str, str]:
    """(role, reason) from the columns first, the file name second."""
    names = {k for c in columns for k in keys(c)}
    found = {canon for canon, aliases in ALIASES.items() if names & set(aliases)}
    if any(SCORE_WORDS.search(k) for k in names):
        found.add("score")
    scores = {
        "customers": 2.0 * len(found & set(CUSTOMER_SIGNALS)),
        "events": 2.0 * ("event_type" in found) + 1.5 * bool(names & _specific_event_time()) + 0.5 * ("amount" in found),
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
    """Canonical -> source column for one table. `overrides` (from churnwhy.toml) win over aliases.

    Two or more columns that could each be the customer id (client_id and account_id) are a MappingError that
    names them and the `[columns]` setting that settles it, unless exactly one of them says "customer"."""
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
        for k in dict.fromkeys(keys(col)):
            by_key.setdefault(k, []).append(col)
    if "customer_id" not in mapping and "customer_id" in allowed:
        ids = list(dict.fromkeys(c for alias in ALIASES["customer_id"] for c in by_key.get(alias, []) if c not in taken))
        said = [c for c in ids if CUSTOMER_WORD.match(key(c))]
        if len(ids) > 1 and len(said) != 1:
            raise MappingError(
                f"{name}: columns {', '.join(repr(h) for h in ids)} could each be the customer id",
                hint=f'say which in churnwhy.toml:  [columns."{name}"]  customer_id = "{ids[0]}"'
                     f'   (or [columns] customer_id = "..." for every file)',
            )
        if ids:
            mapping["customer_id"] = said[0] if len(ids) > 1 else ids[0]
            taken.add(mapping["customer_id"])
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
    free = [c for c in columns if c not in taken]
    if "score" in allowed and "score" not in mapping:
        hits = [c for c in free if SCORE_WORDS.search(key(c))]
        if len(hits) == 1:
            mapping["score"] = hits[0]
            taken.add(hits[0])
    if "amount" in allowed and "amount" not in mapping:
        for suffix in AMOUNT_SUFFIXES:
            hits = [c for c in free if c not in taken and key(c).endswith(suffix) and not FOREIGN_ID.match(key(c))]
            if hits:
                mapping["amount"] = hits[0]
                taken.add(hits[0])
                break
    if "customer_id" not in mapping and role == "customers":
        bare = [c for c in columns if key(c) in ("id", "customer", "client", "account") and c not in taken]
        if bare:
            mapping["customer_id"] = bare[0]
            taken.add(bare[0])
    extra = tuple(c for c in columns if c not in taken and not FOREIGN_ID.match(key(c)))
    return TableMapping(role, mapping, role_reason, extra)
