"""The pages' own words in Simplified Chinese and English, and how a page picks its language.

Only the page chrome lives here (navigation, headings, form labels, table heads, review
decisions and agent states). Evidence words (statuses, KPI names, reasons, flag sentences) and
figures come from the report's catalogue and formatter (:mod:`collector.report.i18n`,
:mod:`collector.report.formatting`), so that a page and a bundle's report say the same thing.
Each key holds both languages as a pair, so neither can be left out; a key a template names but
the catalogue lacks shows as the key itself, which tests/collector/web/test_pages.py looks for.

Choosing: ``?lang=`` (stored in the ``rv_lang`` cookie), then the cookie, then the browser's
``Accept-Language`` (q-values honoured; any ``zh`` means zh-CN), then ``web.default_language``.
"""

from __future__ import annotations

from collections.abc import Mapping

from collector.web.settings import LANGUAGES, Language

__all__ = ["CATALOGUE", "LANG_COOKIE", "choose_language", "translate"]

LANG_COOKIE = "rv_lang"

#: key → (zh-CN, en)
CATALOGUE: dict[str, tuple[str, str]] = {
    "app.title": ("数字化转型试点 成效核验", "Digital-retrofit pilot verification"),
    "nav.skip": ("跳到正文", "Skip to content"),
    "nav.overview": ("总览", "Overview"),
    "nav.fleet": ("设备接入状态", "Fleet health"),
    "nav.quarantine": ("隔离消息", "Quarantine"),
    "nav.audit": ("审计日志", "Audit log"),
    "nav.api": ("接口文档", "API"),
    "nav.language": ("语言", "Language"),
    "nav.logout": ("退出", "Log out"),
    "nav.signed_in_as": ("当前用户", "Signed in as"),
    "role.admin": ("管理员", "Administrator"),
    "role.platform": ("服务平台工程师", "Platform engineer"),
    "role.reviewer": ("审核人员", "Reviewer"),
    "role.observer": ("只读观察员", "Observer"),
    "scope.national": ("全国", "national"),
    "login.title": ("登录", "Log in"),
    "login.token": ("访问令牌", "Access token"),
    "login.token_help": (
        "由管理员用 retrofit-collector users token 生成，以 rvt_ 开头。",
        "Issued by the administrator with retrofit-collector users token; starts with rvt_.",
    ),
    "login.submit": ("登录", "Log in"),
    "login.failed": ("令牌无效、已过期或已撤销。", "The token is invalid, expired or revoked."),
    "login.username": ("登录名", "Login name"),
    "login.password": ("密码", "Password"),
    "login.with_token": ("改用访问令牌登录", "Log in with an access token instead"),
    "login.failed_password": ("登录名或密码不正确。", "Wrong login name or password."),
    "login.failed_totp": (
        "验证码不正确，或已使用过。",
        "The code is wrong, or was used already.",
    ),
    "login.delayed": (
        "失败次数过多，请稍候再试。",
        "Too many failed attempts: please wait before trying again.",
    ),
    "login.wait": ("请 {seconds} 秒后再试。", "Next attempt in {seconds} s."),
    "login.step_expired": (
        "登录步骤已过期，请重新输入登录名和密码。",
        "This login step has expired: enter your login name and password again.",
    ),
    "login.totp_title": ("二次验证", "Second factor"),
    "login.totp_help": (
        "{user}：请输入身份验证器应用中显示的 6 位验证码。",
        "{user}: enter the 6-digit code your authenticator app shows.",
    ),
    "login.totp_code": ("6 位验证码", "6-digit code"),
    "login.change_title": ("设置新密码", "Choose a new password"),
    "login.change_help": (
        "{user}：管理员已重置或设置了您的密码，继续之前请设置只有您知道的新密码。",
        "{user}: your password was set or reset by an administrator; choose one only you "
        "know before going on.",
    ),
    "password.current": ("当前密码", "Current password"),
    "password.new": ("新密码", "New password"),
    "password.repeat": ("再次输入新密码", "New password again"),
    "password.save": ("保存密码", "Save password"),
    "password.policy": (
        "至少 12 个字符；可以是几个词组成的短语。不能是常见密码，也不能与登录名相同。",
        "At least 12 characters; a phrase of a few words is good. Not a common password, "
        "not your login name.",
    ),
    "password.too_short": ("密码太短：至少 12 个字符。", "Too short: at least 12 characters."),
    "password.too_long": ("密码太长：最多 256 个字符。", "Too long: at most 256 characters."),
    "password.common": (
        "这是最常被尝试的密码之一，请换一个。",
        "This is one of the passwords everyone tries first: choose another.",
    ),
    "password.is_username": ("密码不能与登录名相同。", "The password must not be your login name."),
    "password.mismatch": ("两次输入的新密码不一致。", "The two new passwords differ."),
    "password.unchanged": ("新密码与当前密码相同。", "The new password is the current one."),
    "password.current_wrong": ("当前密码不正确。", "The current password is wrong."),
    "nav.account": ("我的账户", "My account"),
    "account.title": ("我的账户", "My account"),
    "account.password": ("修改密码", "Change password"),
    "account.no_password": (
        "您是用访问令牌登录的，此账户没有密码。请管理员用 retrofit-collector users password 设置。",
        "You logged in with an access token; this account has no password. The administrator "
        "sets one with retrofit-collector users password.",
    ),
    "account.totp": ("二次验证（TOTP）", "Second factor (TOTP)"),
    "account.totp_on": ("已启用，自 {since}。", "On since {since}."),
    "account.totp_off": (
        "未启用。启用后，每次登录还需输入身份验证器应用中的验证码。",
        "Off. Once on, each login also asks for the code of your authenticator app.",
    ),
    "account.totp_start": ("启用二次验证", "Turn on the second factor"),
    "account.totp_remove": ("停用二次验证", "Turn off the second factor"),
    "account.done_password": (
        "密码已修改；其他设备上的登录已退出。",
        "Password changed; your other sessions have ended.",
    ),
    "account.done_totp": ("二次验证已启用。", "The second factor is on."),
    "account.done_totp_removed": ("二次验证已停用。", "The second factor is off."),
    # --- issue 21 (province hardening): refusals -------------------------------------------
    # An upload refused, by its reason (collector/attachments/errors.py); the page puts the
    # problem's specifics after the zh-CN sentence (routes/pages/attachments.py).
    "attach.refused.type": (
        "文件被拒绝：内容不是 PDF、PNG 或 JPEG（按文件内容判断，与文件名无关）。",
        "Refused: the content is not a PDF, PNG or JPEG.",
    ),
    "attach.refused.size": ("文件被拒绝：超过大小上限。", "Refused: the file is too large."),
    "attach.refused.empty": ("文件被拒绝：文件为空。", "Refused: the file is empty."),
    "attach.refused.name": (
        "文件被拒绝：文件名含路径或不允许的字符。",
        "Refused: the file name holds a path or characters a name may not hold.",
    ),
    "attach.refused.kind": ("文件被拒绝：文件类别无效。", "Refused: unknown document kind."),
    "attach.refused.amount": (
        "文件被拒绝：发票金额应为人民币数字，最多两位小数（不含千位分隔符、“万元”或货币符号）。",
        "Refused: the invoiced amount must be CNY digits with at most two decimals.",
    ),
    "attach.refused.active": (
        "文件被拒绝：PDF 含有阅读器可执行的活动内容（脚本、启动程序、嵌入文件等）。"
        "此类文件不做清理而是拒收（清理后的发票已不是签署的原件）；请上传不含这些内容的版本，"
        "例如重新“打印为 PDF”。",
        "Refused: the PDF carries active content a reader could run.",
    ),
    "attach.refused.unreadable": (
        "文件被拒绝：无法检查该 PDF 是否含有活动内容（文件损坏、加密或超出检查限制）；"
        "只保存检查过的 PDF。请重新“打印为 PDF”或扫描后上传。",
        "Refused: the PDF could not be checked for active content.",
    ),
    "attach.refused.too-many-uploads": (
        "上传过于频繁，请 {seconds} 秒后再试。",
        "Too many uploads: try again in {seconds} s.",
    ),
    "totp.no_key": (
        "本服务器未配置二次验证密钥的加密钥匙（web.totp_key_path），暂不能启用二次验证；请联系管理员。",
        "This server has no key to seal second-factor secrets with (web.totp_key_path), so a "
        "second factor cannot be turned on; ask an administrator.",
    ),
    "totp.not_now": (
        "此账户现在不能启用二次验证（没有密码，或已启用）。",
        "The second factor cannot be turned on now (no password, or it is on already).",
    ),
    "totp.scan": (
        "用身份验证器应用（如 Microsoft Authenticator、Google Authenticator、FreeOTP）扫描二维码。",
        "Scan the QR code with an authenticator app (Microsoft or Google Authenticator, "
        "FreeOTP, ...).",
    ),
    "totp.qr_alt": ("二次验证密钥的二维码", "QR code of the second-factor secret"),
    "totp.or_type": ("或手动输入密钥：", "Or type the secret:"),
    "totp.once": (
        "密钥只显示这一次；输入应用显示的验证码确认后才会启用。",
        "The secret is shown this once; it is turned on when you confirm a code from the app.",
    ),
    "totp.confirm": ("确认并启用", "Confirm and turn on"),
    "totp.wrong_code": (
        "验证码不正确：请检查手机时间后重试。",
        "Wrong code: check the phone's clock and try again.",
    ),
    "home.title": ("各省试点总览", "Provinces"),
    "home.none": ("尚未加载实施方案。", "No implementation plan is loaded yet."),
    "province.title": ("省级总览", "Province overview"),
    "province.platforms": ("服务平台", "Service platforms"),
    "province.batches": ("批次", "Batches"),
    "col.code": ("代码", "Code"),
    "col.name": ("名称", "Name"),
    "col.platform": ("服务平台", "Platform"),
    "col.sub_industry": ("细分行业", "Sub-industry"),
    "col.enterprises": ("试点企业数", "Enterprises"),
    "col.evidence_passed": ("核验通过（证据）", "Passed (evidence)"),
    "col.reviewed_passed": ("审核通过", "Passed (review)"),
    "col.minimum": ("不少于 10 家", "Minimum of 10"),
    "col.subsidy": ("奖补资金", "Subsidy"),
    "col.enterprise": ("试点企业", "Enterprise"),
    "col.verdict": ("核验结论", "Verdict"),
    "col.decision": ("审核结论", "Review decision"),
    "col.flags": ("提示", "Flags"),
    "col.baseline_coverage": ("基线期数据覆盖", "Baseline coverage"),
    "col.reporting_coverage": ("报告期数据覆盖", "Reporting coverage"),
    "col.cost": ("改造投入", "Retrofit cost"),
    "col.kpi": ("指标", "KPI"),
    "col.baseline": ("基线期", "Baseline"),
    "col.reporting": ("报告期", "Reporting"),
    "col.change": ("变化", "Change"),
    "col.interval": ("置信区间", "Interval"),
    "col.target": ("目标", "Target"),
    "col.status": ("结论", "Status"),
    "col.usable_days": ("有效天数", "Usable days"),
    "col.agent": ("采集终端", "Agent"),
    "col.devices": ("设备", "Devices"),
    "col.state": ("状态", "State"),
    "col.last_seen": ("最近上报", "Last seen"),
    "col.last_window": ("最近数据窗口", "Last window"),
    "col.outbox": ("待发缓存", "Outbox"),
    "col.gaps": ("序号缺口", "Seq gaps"),
    "col.version": ("版本", "Version"),
    "col.time": ("时间", "Time"),
    "col.actor": ("操作人", "Who"),
    "col.action": ("操作", "Action"),
    "col.subject": ("对象", "Subject"),
    "col.detail": ("详情", "Detail"),
    "col.reason": ("原因", "Reason"),
    "col.topic": ("主题", "Topic"),
    "col.size": ("大小（字节）", "Size (bytes)"),
    "col.file": ("文件", "File"),
    "col.comment": ("意见", "Comment"),
    "col.bundle": ("证据包", "Bundle"),
    "col.check": ("检查项", "Check"),
    "col.severity": ("级别", "Severity"),
    "col.days": ("日期", "Days"),
    "yes": ("是", "yes"),
    "no": ("否", "no"),
    "none": ("无", "none"),
    "platform.title": ("服务平台", "Platform"),
    "platform.rollup": ("奖补测算（按审核结论）", "Subsidy by review decisions"),
    "platform.capped": ("已达平台上限 600 万元", "capped at 6,000,000 CNY per platform"),
    "enterprise.title": ("试点企业", "Enterprise"),
    "enterprise.plan": ("实施方案", "Implementation plan"),
    "enterprise.industry": ("所属行业", "Industry"),
    "enterprise.solution": ("改造方案", "Solution"),
    "enterprise.periods": ("基线期与报告期", "Periods"),
    "enterprise.go_live": ("上线日期", "Go-live"),
    "enterprise.rectification": ("整改", "Rectification"),
    "enterprise.charts": ("改造前后对比", "Before and after"),
    "enterprise.chart_note": (
        "每日数值（当日汇总量之比）；竖线为上线日期。",
        "Daily values (ratios of the day's sums); the vertical line is go-live.",
    ),
    "enterprise.kpis": ("绩效指标", "Performance targets"),
    "export.download": ("下载表格", "Download the table"),
    "enterprise.flags": ("合理性提示", "Plausibility flags"),
    "enterprise.flags_none": ("无提示。", "No flags."),
    "enterprise.files": ("证据包文件", "Bundle files"),
    "enterprise.no_evidence": ("尚无证据包。", "No evidence bundle yet."),
    "enterprise.run": ("立即生成证据", "Run evidence now"),
    "enterprise.bundle_id": ("证据包编号（manifest SHA-256）", "Bundle id (manifest SHA-256)"),
    "enterprise.agents": ("采集终端", "Agents"),
    "enterprise.decisions": ("审核记录", "Review decisions"),
    "enterprise.decide": ("审核结论", "Record a decision"),
    "enterprise.decide_help": (
        "结论针对上方证据包，记录后不可修改；新的结论将替代旧结论，旧结论保留。",
        "The decision is on the bundle above and cannot be edited; a later decision "
        "supersedes it and both are kept.",
    ),
    "enterprise.outcome": ("结论", "Outcome"),
    "enterprise.submit": ("提交审核结论", "Record decision"),
    "enterprise.recorded": ("审核结论已记录。", "Decision recorded."),
    "enterprise.evidence_done": ("证据包已生成。", "Evidence bundle stored."),
    "enterprise.subsidy": ("奖补（按证据）", "Subsidy (by evidence)"),
    # The enterprise's file (一企一档): templates/attachments.html
    "documents.title": (
        "一企一档：合同、发票、付款凭证、总结报告",
        "Enterprise file: contract, invoices, payment proofs, summary report",
    ),
    "documents.none": ("尚无文件。", "No documents yet."),
    "documents.kind": ("类别", "Kind"),
    "documents.kind.contract": ("改造合同", "Retrofit contract"),
    "documents.kind.invoice": ("发票", "Invoice"),
    "documents.kind.payment_proof": ("付款凭证", "Proof of payment"),
    "documents.kind.summary_report": ("总结报告", "Summary report"),
    "documents.name": ("文件名", "File name"),
    "documents.type": ("文件类型", "Type"),
    "documents.size": ("大小（字节）", "Size (bytes)"),
    "documents.amount": ("发票金额（元）", "Invoiced (CNY)"),
    "documents.invoiced": ("发票合计", "Invoiced total"),
    "documents.no_invoice": ("尚无发票", "no invoice yet"),
    "documents.subsidy_cost": ("奖补计算依据（两者较低者）", "Subsidy computed on (the lower)"),
    "documents.costs_differ": (
        "发票合计与实施方案改造费用不一致",
        "Invoiced total differs from the plan's cost",
    ),
    "documents.add": ("上传文件", "Attach a document"),
    "documents.help": (
        "仅接受 PDF、PNG、JPEG（按文件内容判断，不看文件名）；"
        "发票须填写金额（元，最多两位小数，不带千分位或“万元”）。",
        "PDF, PNG or JPEG only (judged by content, not by name); an invoice needs its amount "
        "in CNY (at most two decimals, no thousands separators).",
    ),
    "documents.amount_label": ("发票金额（元，仅发票）", "Invoice amount (CNY, invoices only)"),
    "documents.file": ("文件", "File"),
    "documents.withdraw": ("撤回", "Withdraw"),
    "documents.withdraw_reason": ("撤回原因", "Why withdraw"),
    "documents.withdrawn": ("已撤回", "Withdrawn"),
    "documents.withdrawn_done": (
        "文件已撤回，不再计入。",
        "Document withdrawn; it no longer counts.",
    ),
    "documents.seen": ("所见一企一档文件", "Documents seen"),
    "documents.seen_help": (
        "本结论将记录您在上方看到的一企一档文件（SHA-256）",
        "The decision records the enterprise documents shown above (SHA-256)",
    ),
    "documents.submit": ("上传", "Attach"),
    "documents.attached": ("文件已上传。", "Document attached."),
    "documents.duplicate": (
        "该文件此前已上传，未重复保存。",
        "These bytes were already attached; nothing stored.",
    ),
    "enterprise.integrity": ("数据完整性", "Data integrity"),
    "enterprise.open_gaps": ("未补齐的序号缺口", "Open sequence gaps"),
    "decision.pass": ("通过", "Pass"),
    "decision.fail": ("不通过", "Fail"),
    "decision.rectify": ("整改", "Rectify"),
    "evidence.none": ("未核验", "No evidence"),
    "state.online": ("在线", "online"),
    "state.offline": ("离线", "offline"),
    "state.never_seen": ("从未上报", "never seen"),
    "state.revoked": ("已撤销", "revoked"),
    "fleet.title": ("设备接入状态", "Fleet health"),
    "fleet.summary": ("在线 {online} / 共 {total}", "{online} online of {total}"),
    "quarantine.title": ("隔离消息", "Quarantined messages"),
    "audit.title": ("审计日志", "Audit log"),
    "audit.note": (
        "所有方案、密钥、用户、审核结论与证据生成的变更，只可追加，不可修改。",
        "Every change of plan, key, user, decision and evidence run; append-only.",
    ),
    "page.previous": ("上一页", "Previous"),
    "page.next": ("下一页", "Next"),
    "page.of": ("第 {first}–{last} 条，共 {total} 条", "{first}–{last} of {total}"),
    "error.title": ("出错了", "Something went wrong"),
    "error.back": ("返回总览", "Back to the overview"),
}

# The day seals (#17): the enterprise page's "日封存 / Day seals" section and the fleet's count
# (docs/web.md, "Day seals").
CATALOGUE.update(
    {
        "seals.title": ("日封存", "Day seals"),
        "seals.help": (
            "每个设备日的日汇总与采集终端签名的日封存逐项核对的结果。"
            "未封存的日子在当地日结束一天后计为逾期。",
            "Each device-day's daily row checked figure by figure against the day seal its "
            "agent signed. An unsealed day counts as overdue once a day has passed since its "
            "local end.",
        ),
        "seals.period": ("时段", "Period"),
        "seals.between": ("基线期后、报告期前", "Between baseline and reporting"),
        "seals.equal": ("已封存，一致", "Sealed, equal"),
        "seals.different": ("已封存，不一致", "Sealed, different"),
        "seals.unsealed_overdue": ("未封存，已逾期", "Unsealed, overdue"),
        "seals.unsealed_recent": ("未封存，近期", "Unsealed, recent"),
        "seals.differences": ("与日封存不一致的设备日", "Device-days that differ from their seal"),
        "seals.none_different": (
            "没有与日封存不一致的设备日。",
            "No device-day differs from its seal.",
        ),
        "seals.api": ("全部核对结果（JSON）", "Every check (JSON)"),
        "col.device": ("设备", "Device"),
        "col.day": ("日期", "Day"),
        "col.provenance": ("来源", "Provenance"),
        "col.field": ("字段", "Field"),
        "col.stored": ("库中数值", "Stored"),
        "col.sealed": ("封存数值", "Sealed"),
        "col.seals_behind": ("逾期未封存（设备日）", "Seals behind (device-days)"),
    }
)


def translate(key: str, language: Language, **values: object) -> str:
    """The text for ``key`` in ``language`` with ``{name}`` filled in; the key if unknown."""
    entry = CATALOGUE.get(key)
    if entry is None:
        return key
    text = entry[0] if language == "zh-CN" else entry[1]
    return text.format(**values) if values else text


def _from_accept_language(header: str) -> Language | None:
    ranked: list[tuple[float, int, Language]] = []
    for index, part in enumerate(header.split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        base = tag.strip().lower()
        language: Language | None = None
        if base.startswith("zh"):
            language = "zh-CN"
        elif base.startswith("en"):
            language = "en"
        if language is not None and quality > 0:
            ranked.append((-quality, index, language))
    return min(ranked)[2] if ranked else None


def choose_language(
    query: str | None, cookies: Mapping[str, str], accept_language: str | None, default: Language
) -> Language:
    """The page language: query, cookie, Accept-Language, then the configured default."""
    for candidate in (query, cookies.get(LANG_COOKIE)):
        if candidate in LANGUAGES:
            return "zh-CN" if candidate == "zh-CN" else "en"
    if accept_language:
        found = _from_accept_language(accept_language)
        if found is not None:
            return found
    return default
