"""CEB message catalogue: record elements, field order, attribute map and required fields."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from inspection.model import DocKind

#: Namespace of every CEB message element.
CEB_NS = "http://www.chinaport.gov.cn/ceb"
#: Clark-notation prefix of CEB element tags, ``{namespace}``.
CEB_PREFIX = "{" + CEB_NS + "}"

#: Trade modes of import lists: 9610 direct purchase, 1210 bonded (pilot cities), 1239 bonded
#: (other cities).
IMPORT_MODES = frozenset({"9610", "1210", "1239"})
#: Bonded import modes: the list must name its account book (emsNo) and area (areaCode).
BONDED_MODES = frozenset({"1210", "1239"})
#: Trade modes of export lists: 9610, 1210, and the B2B export modes 9710 and 9810.
EXPORT_MODES = frozenset({"9610", "1210", "9710", "9810"})
#: Trade modes a CEB inventory may carry.
TRADE_MODES = IMPORT_MODES | EXPORT_MODES
#: Direction each inventory message stands for (its ieFlag must agree).
MESSAGE_DIRECTION = {"CEB621": "I", "CEB603": "E"}
#: Import/export flags.
IE_FLAGS = frozenset({"I", "E"})


class FieldType(Enum):
    """How a CEB element's text becomes a Python value."""

    TEXT = "text"
    DECIMAL = "decimal"  # non-negative Decimal (amounts, weights in kg, quantities)
    TIME = "time"  # yyyyMMdd, yyyyMMddHHmmss or yyyyMMddHHmmssSSS, China time (UTC+8)
    INT = "int"  # goods line number, >= 1
    STATUS = "status"  # receipt returnStatus, any integer


T = FieldType.TEXT
D = FieldType.DECIMAL

#: Head element → (Declaration attribute, type), shared by every declaration message.
HEAD_ATTRS: dict[str, tuple[str, FieldType]] = {
    "orderNo": ("order_no", T),
    "logisticsNo": ("logistics_no", T),
    "invtNo": ("invt_no", T),
    "copNo": ("cop_no", T),
    "preNo": ("pre_no", T),
    "ebpCode": ("ebp_code", T),
    "ebcCode": ("ebc_code", T),
    "ebcName": ("ebc_name", T),
    "logisticsCode": ("logistics_code", T),
    "agentCode": ("agent_code", T),
    "payCode": ("pay_code", T),
    "payTransactionId": ("pay_transaction_id", T),
    "tradeMode": ("trade_mode", T),
    "ieFlag": ("ie_flag", T),
    "declTime": ("decl_time", FieldType.TIME),
    "buyerIdType": ("buyer_id_type", T),
    "buyerIdNumber": ("buyer_id_number", T),
    "buyerName": ("buyer_name", T),
    "buyerTelephone": ("buyer_telephone", T),
    "payerIdType": ("payer_id_type", T),
    "payerIdNumber": ("payer_id_number", T),
    "payerName": ("payer_name", T),
    "consignee": ("consignee", T),
    "consigneeTelephone": ("consignee_telephone", T),
    "consigneeAddress": ("consignee_address", T),
    "goodsValue": ("goods_value", D),
    "freight": ("freight", D),
    "discount": ("discount", D),
    "taxTotal": ("tax_total", D),
    "acturalPaid": ("actural_paid", D),
    "amountPaid": ("amount_paid", D),
    "currency": ("currency", T),
    "grossWeight": ("gross_weight_kg", D),
    "netWeight": ("net_weight_kg", D),
    "country": ("country", T),
}

#: Goods-line element → (GoodsLine attribute, type). ``itemName`` is used when ``gname`` is empty.
LINE_ATTRS: dict[str, tuple[str, FieldType]] = {
    "gnum": ("gnum", FieldType.INT),
    "gcode": ("hs_code", T),
    "gname": ("name", T),
    "itemName": ("item_name", T),
    "gmodel": ("model", T),
    "qty": ("qty", D),
    "unit": ("unit", T),
    "price": ("price", D),
    "totalPrice": ("total_price", D),
    "currency": ("currency", T),
    "country": ("origin", T),
}

#: Receipt element → (Receipt attribute, type); key fields are read separately.
RECEIPT_ATTRS: dict[str, tuple[str, FieldType]] = {
    "guid": ("guid", T),
    "invtNo": ("invt_no", T),
    "orderNo": ("order_no", T),
    "logisticsNo": ("logistics_no", T),
    "returnStatus": ("return_status", FieldType.STATUS),
    "returnTime": ("return_time", FieldType.TIME),
    "returnInfo": ("return_info", T),
}

_APP = ("guid", "appType", "appTime", "appStatus")

_ORDER_HEAD = (
    *_APP, "orderType", "orderNo", "ebpCode", "ebpName", "ebcCode", "ebcName", "goodsValue",
    "freight", "discount", "taxTotal", "acturalPaid", "currency", "buyerRegNo", "buyerName",
    "buyerTelephone", "buyerIdType", "buyerIdNumber", "payCode", "payName", "payTransactionId",
    "batchNumbers", "consignee", "consigneeTelephone", "consigneeAddress", "consigneeDistrict",
    "note",
)  # fmt: skip
_ORDER_LIST = (
    "gnum", "itemNo", "itemName", "gmodel", "itemDescribe", "barCode", "unit", "qty", "price",
    "totalPrice", "currency", "country", "note",
)  # fmt: skip
_PAYMENT_HEAD = (
    *_APP, "payCode", "payName", "payTransactionId", "orderNo", "ebpCode", "ebpName",
    "payerIdType", "payerIdNumber", "payerName", "telephone", "amountPaid", "currency",
    "payTime", "note",
)  # fmt: skip
_LOGISTICS_HEAD = (
    *_APP, "logisticsCode", "logisticsName", "logisticsNo", "billNo", "orderNo", "freight",
    "insuredFee", "currency", "weight", "packNo", "goodsInfo", "consignee", "consigneeAddress",
    "consigneeTelephone", "note",
)  # fmt: skip
_INVENTORY_HEAD = (
    *_APP, "orderNo", "ebpCode", "ebpName", "ebcCode", "ebcName", "logisticsNo",
    "logisticsCode", "logisticsName", "copNo", "preNo", "assureCode", "emsNo", "invtNo",
    "ieFlag", "declTime", "customsCode", "portCode", "ieDate", "buyerIdType", "buyerIdNumber",
    "buyerName", "buyerTelephone", "consigneeAddress", "agentCode", "agentName", "areaCode",
    "areaName", "tradeMode", "trafMode", "trafNo", "voyageNo", "billNo", "loctNo", "licenseNo",
    "country", "freight", "insuredFee", "currency", "wrapType", "packNo", "grossWeight",
    "netWeight", "note",
)  # fmt: skip
_INVENTORY_LIST = (
    "gnum", "itemRecordNo", "itemNo", "itemName", "gcode", "gname", "gmodel", "barCode",
    "country", "tradeCountry", "currency", "qty", "unit", "qty1", "unit1", "qty2", "unit2",
    "price", "totalPrice", "note",
)  # fmt: skip
_EXPORT_HEAD = (
    *_APP, "customsCode", "ebpCode", "ebpName", "orderNo", "logisticsCode", "logisticsName",
    "logisticsNo", "copNo", "preNo", "invtNo", "ieFlag", "declTime", "portCode", "ieDate",
    "statisticsFlag", "agentCode", "agentName", "ebcCode", "ebcName", "ownerCode", "ownerName",
    "iacCode", "iacName", "emsNo", "tradeMode", "trafMode", "trafName", "voyageNo", "billNo",
    "totalPackageNo", "loctNo", "licenseNo", "country", "POD", "freight", "fCurrency", "fFlag",
    "insuredFee", "iCurrency", "iFlag", "wrapType", "packNo", "grossWeight", "netWeight",
    "note",
)  # fmt: skip
_EXPORT_LIST = (
    "gnum", "itemNo", "itemRecordNo", "itemName", "gcode", "gname", "gmodel", "barCode",
    "country", "currency", "qty", "qty1", "qty2", "unit", "unit1", "unit2", "price",
    "totalPrice", "note",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class DeclarationSpec:
    """How one declaration message (CEB311/411/511/621/603) is laid out and checked."""

    message_type: str
    kind: DocKind
    record: str  # record element, e.g. "Inventory"
    head: str  # head element, e.g. "InventoryHead"
    key: tuple[str, str]  # business key elements: code, number
    required: tuple[str, ...]  # head elements that must be present and non-empty
    head_order: tuple[str, ...]  # element order when writing
    line: str = ""  # goods-line element ("" when the message has none)
    line_order: tuple[str, ...] = ()
    line_name: str = "gname"  # element that carries GoodsLine.name when writing
    min_lines: int = 0
    hs_required: bool = False  # lines must carry a numeric gcode
    weight_field: str = "grossWeight"  # element carrying gross_weight_kg

    def attrs(self) -> dict[str, tuple[str, FieldType]]:
        """Head element → (attribute, type) for this message."""
        table = dict(HEAD_ATTRS)
        if self.weight_field != "grossWeight":
            del table["grossWeight"]
            table[self.weight_field] = ("gross_weight_kg", FieldType.DECIMAL)
        return table


@dataclass(frozen=True, slots=True)
class ReceiptSpec:
    """How one receipt message (CEB622/604/312/412/512) is laid out."""

    message_type: str
    kind: DocKind  # kind of the declaration the receipt answers
    record: str  # e.g. "InventoryReturn"
    key: tuple[str, str]
    order: tuple[str, ...]  # element order when writing


_INVENTORY_REQUIRED = ("agentCode", "copNo", "ieFlag", "tradeMode", "grossWeight")

DECLARATIONS: dict[str, DeclarationSpec] = {
    spec.message_type: spec
    for spec in (
        DeclarationSpec(
            "CEB311", DocKind.ORDER, "Order", "OrderHead", ("ebpCode", "orderNo"),
            ("ebpCode", "orderNo", "goodsValue", "acturalPaid", "buyerIdNumber"), _ORDER_HEAD,
            line="OrderList", line_order=_ORDER_LIST, line_name="itemName", min_lines=1,
        ),
        DeclarationSpec(
            "CEB411", DocKind.PAYMENT, "Payment", "PaymentHead", ("payCode", "payTransactionId"),
            ("payCode", "payTransactionId", "amountPaid"), _PAYMENT_HEAD,
        ),
        DeclarationSpec(
            "CEB511", DocKind.WAYBILL, "Logistics", "LogisticsHead",
            ("logisticsCode", "logisticsNo"), ("logisticsCode", "logisticsNo", "weight"),
            _LOGISTICS_HEAD, weight_field="weight",
        ),
        DeclarationSpec(
            "CEB621", DocKind.INVENTORY, "Inventory", "InventoryHead", ("agentCode", "copNo"),
            _INVENTORY_REQUIRED, _INVENTORY_HEAD, line="InventoryList",
            line_order=_INVENTORY_LIST, min_lines=1, hs_required=True,
        ),
        DeclarationSpec(
            "CEB603", DocKind.EXPORT_INVENTORY, "Inventory", "InventoryHead",
            ("agentCode", "copNo"), _INVENTORY_REQUIRED, _EXPORT_HEAD, line="InventoryList",
            line_order=_EXPORT_LIST, min_lines=1, hs_required=True,
        ),
    )
}  # fmt: skip

_INVENTORY_RETURN = (
    "guid", "customsCode", "ebpCode", "ebcCode", "agentCode", "copNo", "preNo", "invtNo",
    "returnStatus", "returnTime", "returnInfo",
)  # fmt: skip

RECEIPTS: dict[str, ReceiptSpec] = {
    spec.message_type: spec
    for spec in (
        ReceiptSpec("CEB622", DocKind.INVENTORY, "InventoryReturn", ("agentCode", "copNo"),
                    _INVENTORY_RETURN),
        ReceiptSpec("CEB604", DocKind.EXPORT_INVENTORY, "InventoryReturn",
                    ("agentCode", "copNo"), _INVENTORY_RETURN),
        ReceiptSpec("CEB312", DocKind.ORDER, "OrderReturn", ("ebpCode", "orderNo"),
                    ("guid", "ebpCode", "ebcCode", "orderNo", "returnStatus", "returnTime",
                     "returnInfo")),
        ReceiptSpec("CEB412", DocKind.PAYMENT, "PaymentReturn", ("payCode", "payTransactionId"),
                    ("guid", "payCode", "payTransactionId", "returnStatus", "returnTime",
                     "returnInfo")),
        ReceiptSpec("CEB512", DocKind.WAYBILL, "LogisticsReturn",
                    ("logisticsCode", "logisticsNo"),
                    ("guid", "logisticsCode", "logisticsNo", "returnStatus", "returnTime",
                     "returnInfo")),
    )
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class NoticeSpec:
    """How one message read for the record only (CEB513/623-626/900) is laid out."""

    message_type: str
    record: str  # record element
    key: tuple[str, str]  # business key elements of the document it concerns
    status: str = ""  # element carrying the status ("" when none)
    time: str = ""  # element carrying the time
    info: str = ""  # element carrying the reason or returnInfo


_LIST_KEY = ("agentCode", "copNo")

NOTICES: dict[str, NoticeSpec] = {
    spec.message_type: spec
    for spec in (
        NoticeSpec("CEB513", "LogisticsStatus", ("logisticsCode", "logisticsNo"),
                   "logisticsStatus", "logisticsTime", "note"),
        NoticeSpec("CEB623", "InvtCancel", _LIST_KEY, "", "appTime", "reason"),
        NoticeSpec("CEB624", "InvtCancelReturn", _LIST_KEY, "returnStatus", "returnTime",
                   "returnInfo"),
        NoticeSpec("CEB625", "InvtRefundHead", _LIST_KEY, "", "appTime", "reason"),
        NoticeSpec("CEB626", "InvtRefundReturn", _LIST_KEY, "returnStatus", "returnTime",
                   "returnInfo"),
        # a message refused by schema: it names the refused message by its guid only
        NoticeSpec("CEB900", "MessageReturn", ("", "guid"), "returnStatus", "returnTime",
                   "returnInfo"),
    )
}  # fmt: skip

#: Every message type this package reads and writes.
MESSAGE_TYPES = tuple(sorted((*DECLARATIONS, *RECEIPTS)))
#: Every message type this package reads.
READ_TYPES = tuple(sorted((*DECLARATIONS, *RECEIPTS, *NOTICES)))

#: Elements of the closing ``BaseTransfer`` block, in order.
BASE_TRANSFER = ("copCode", "copName", "dxpMode", "dxpId", "note")


def business_key(code: str, number: str) -> str:
    """Business key ``code:number`` (e.g. ``agentCode:copNo``) as used across the project."""
    return f"{code}:{number}"


def split_business_key(key: str) -> tuple[str, str]:
    """Split a business key at its first ``:`` into (code, number); codes carry no colon."""
    code, sep, number = key.partition(":")
    if not sep or not code or not number:
        raise ValueError(f"business key {key!r} is not of the form code:number")
    return code, number
