// The desk's words in Chinese (the default) and English. Codes (kinds, statuses, grades, rules) are
// not here: their labels come from the API's /v1/labels, the same labels exports and sheets use.

const WORDS = {
  zh: {
    title: "贴心儿女 · 服务记录台账",
    switch_lang: "English",
    sign_in: "登录",
    sign_out: "退出",
    key_prompt: "粘贴 API 密钥（由 tiexin demo 或 tiexin keys create 打印）",
    key_kept: "密钥只保存在本浏览器会话中，关闭标签页即清除。",
    key_refused: "密钥无效或已吊销",
    signed_in_as: "当前身份",
    role: { coordinator: "协调员", volunteer: "志愿者", evaluator: "考评员", finance: "财务", auditor: "审计员", admin: "管理员" },
    pages: {
      home: "首页", county: "全县概览", township: "乡镇名册", volunteer: "志愿者", elder: "老人档案",
      budget: "补贴预算", claim: "报销单", audit: "审计台", evaluation: "考评台",
    },
    your_pages: "您可以查看的页面",
    no_pages: "您的角色没有台账页面；请使用 API 文档（/docs）。",
    not_for_role: "本页不对您的角色开放",
    not_for_role_detail: (role, roles) => `${role}的密钥不能查看本页；本页面向：${roles}。`,
    not_found: "未找到",
    empty: "暂无数据",
    loading: "加载中…",
    error: "出错了",
    freshness: (p, lag) => `反映日志位置 ${p}` + (lag ? `，落后 ${lag} 条事件` : "，已是最新"),
    live: "实时",
    offline: "未连接实时更新",
    township: "乡镇", elders: "老人", paired: "已结对", unpaired: "未结对", overdue: "逾期未联系",
    contacts: (month) => `${month} 联系次数`, total: "合计", county_total: "全县合计",
    month: "月份", kind: "类型", status: "状态", visits: "走访", count: "次数",
    visits_by_month: "每月走访", score: "得分", term: "项目", value: "分值", explanation: "计算说明",
    grade: "等级", trainings: "培训", course: "课程", hours: "学时", day: "日期",
    certificate: "志愿服务记录证明", from: "起", to: "止", issue_download: "出具并下载 PDF",
    pairings: "结对", volunteer: "志愿者", elder: "老人", group: "服务组", since: "起始",
    health: "健康读数", systolic: "收缩压", diastolic: "舒张压", pulse: "脉搏", glucose: "血糖",
    at: "时间", reason: "查阅事由（将记入台账）", show: "查看",
    lines: "预算科目", line: "科目", appropriated: "预算数", committed: "已承诺", paid: "已支付", available: "可用",
    burndown: "全年预算执行（每月末，元）", claims_by_status: "报销单（按状态）", amount: "金额（元）",
    claims: "报销单", anomalies: "异常", rule: "规则", description: "说明", at_stake: "涉及金额（元）",
    trail: "审计轨迹", position: "日志位置", event: "事件", who: "操作人", detail: "详情", items: "明细",
    visit: "走访", pairing: "结对",
    sample: "抽样", draw: "抽取", size: "样本量", seed: "随机种子", stratify: "分层", none: "不分层",
    reconciliation: "对账", balanced: "平衡", unbalanced: "不平衡", difference: "差额（元）",
    exports: "导出", download_export: "下载全年审计文件（ZIP）",
    seals: "封印", seal: "封印", tree_size: "事件数", sealed_at: "封印时间", verify: "校验台账",
    verified: "校验结果",
    distribution: "各乡镇等级分布", ranking: "排名", rank: "名次", compare: "两个政策版本对比",
    policy_version: "政策版本", only_one_version: "只有一个评分政策版本；采用新版本后可对比。",
    pick_volunteer: "选择志愿者", year: "年度",
    volunteers: "志愿者人数", not_rated: "未评定",
    terms: { service: "服务", satisfaction: "满意度", evaluation: "考评", training: "培训", penalty: "扣分" },
  },
  en: {
    title: "Caring sons and daughters · service-record ledger",
    switch_lang: "中文",
    sign_in: "Sign in",
    sign_out: "Sign out",
    key_prompt: "Paste an API key (printed by tiexin demo or tiexin keys create)",
    key_kept: "The key is kept in this browser session only; closing the tab forgets it.",
    key_refused: "The key is unknown or revoked",
    signed_in_as: "Signed in as",
    role: { coordinator: "coordinator", volunteer: "volunteer", evaluator: "evaluator", finance: "finance", auditor: "auditor", admin: "admin" },
    pages: {
      home: "Home", county: "County at a glance", township: "Township roster", volunteer: "Volunteer", elder: "Elder",
      budget: "Subsidy budget", claim: "Claim", audit: "Auditor's desk", evaluation: "Evaluator's desk",
    },
    your_pages: "Pages for your role",
    no_pages: "Your role has no desk pages; use the API docs (/docs).",
    not_for_role: "Not for your role",
    not_for_role_detail: (role, roles) => `A ${role}'s key cannot see this page; it is for: ${roles}.`,
    not_found: "Not found",
    empty: "Nothing yet",
    loading: "Loading…",
    error: "Something went wrong",
    freshness: (p, lag) => `Reflects log position ${p}` + (lag ? `, ${lag} events behind` : ", up to date"),
    live: "live",
    offline: "not receiving live updates",
    township: "Township", elders: "Elders", paired: "Paired", unpaired: "Unpaired", overdue: "Overdue",
    contacts: (month) => `Contacts in ${month}`, total: "Total", county_total: "County total",
    month: "Month", kind: "Kind", status: "Status", visits: "Visits", count: "Count",
    visits_by_month: "Visits by month", score: "Score", term: "Term", value: "Value", explanation: "Explanation",
    grade: "Grade", trainings: "Trainings", course: "Course", hours: "Hours", day: "Day",
    certificate: "Service-record certificate", from: "From", to: "To", issue_download: "Issue and download PDF",
    pairings: "Pairings", volunteer: "Volunteer", elder: "Elder", group: "Group", since: "Since",
    health: "Health readings", systolic: "Systolic", diastolic: "Diastolic", pulse: "Pulse", glucose: "Glucose",
    at: "When", reason: "Reason for reading (recorded in the ledger)", show: "Show",
    lines: "Budget lines", line: "Line", appropriated: "Appropriated", committed: "Committed", paid: "Paid", available: "Available",
    burndown: "The year's budget, month by month (end of month, yuan)", claims_by_status: "Claims by status", amount: "Amount (yuan)",
    claims: "Claims", anomalies: "Anomalies", rule: "Rule", description: "Description", at_stake: "At stake (yuan)",
    trail: "Audit trail", position: "Log position", event: "Event", who: "By", detail: "Detail", items: "Items",
    visit: "Visit", pairing: "Pairing",
    sample: "Sample", draw: "Draw", size: "Size", seed: "Seed", stratify: "Stratify", none: "none",
    reconciliation: "Reconciliation", balanced: "balanced", unbalanced: "not balanced", difference: "Difference (yuan)",
    exports: "Exports", download_export: "Download the year's audit files (ZIP)",
    seals: "Seals", seal: "Seal", tree_size: "Events", sealed_at: "Sealed at", verify: "Verify the log",
    verified: "Verification",
    distribution: "Grades per township", ranking: "Ranking", rank: "Rank", compare: "Two policy versions side by side",
    policy_version: "Policy version", only_one_version: "Only one scoring policy version; adopt another to compare.",
    pick_volunteer: "Pick a volunteer", year: "Year",
    volunteers: "Volunteers", not_rated: "not rated",
    terms: { service: "service", satisfaction: "satisfaction", evaluation: "evaluation", training: "training", penalty: "penalty" },
  },
};

let current = localStorage.getItem("tiexin.lang") === "en" ? "en" : "zh";

export function lang() {
  return current;
}

export function setLang(value) {
  current = value === "en" ? "en" : "zh";
  localStorage.setItem("tiexin.lang", current);
  document.documentElement.lang = current === "zh" ? "zh-CN" : "en";
}

/** The word for ``key`` in the current language; a function word is called with ``args``. */
export function t(key, ...args) {
  const word = WORDS[current][key];
  return typeof word === "function" ? word(...args) : word;
}
