/* luat-fota web console: one page per #hash, all data through /console/api/
 * (docs/server.md). No framework, nothing fetched from elsewhere. */
'use strict';

const T = {
  en: {
    title: 'Upgrade console', projects: 'Projects', firmware: 'Firmware', config: 'Upgrade configuration',
    devices: 'Devices', log: 'Upgrade log', delta: 'Delta tool', project: 'Project', logout: 'Log out',
    login: 'Log in', user: 'Account', password: 'Password', set_password: 'Set a new password',
    must_change: 'The initial password must be replaced before you continue.', old_password: 'Current password',
    new_password: 'New password (8+ characters)', repeat_password: 'Repeat it', save: 'Save',
    project_name: 'Name', lua_project: 'PROJECT (main.lua; default: the project name)', family: 'Module family', create: 'Create', name: 'Name', created: 'Date',
    kind: 'Kind', kind_luatos: 'LuatOS core image + scripts', kind_at: 'AT firmware image',
    kind_package: 'Prebuilt delta package (AT)', model: 'Model', core_version: 'Core version',
    script_version: 'Script version', core_file: 'Core image', script_files: 'Script files', package_file: 'Package',
    fw_name: 'Firmware name', upload: 'Upload', size: 'Size', target: 'Target release', enabled: 'Enabled',
    all_devices: 'Upgrade all devices', imei_paste: 'IMEIs, one per line or comma separated', add: 'Add',
    from_versions: 'From versions', any_version: 'Any version', from_ph: '1103.1.0, 1104.1.0', search: 'Search',
    last_checkin: 'Last check-in', version: 'Version', banned: 'Banned', unban: 'Unban', time: 'Time', code: 'Code',
    meaning: 'Meaning and advice', request: 'Request', old_image: 'Old image', new_image: 'New image',
    make_delta: 'Make delta', running: 'Running…', download: 'Download', copy: 'Copy', copied: 'Copied',
    saved: 'Saved', remove: 'Remove', yes: 'yes', no: 'no', all: 'all', any: 'any', never: 'never',
    mismatch: 'The two new passwords differ', no_project: 'Create a project first', uploading: 'Uploading',
    done: 'Done', none: 'none', sizes: 'old {o} B, new {n} B, delta {d} B ({r}% of new)',
    c0: 'Package sent: the device upgrades.', c3: 'Invalid device: check the IMEI the device sends.',
    c17: 'No permission: device, firmware and project are not under one account.',
    c21: 'Not allowed: the device or its version is not in the upgrade configuration; add its IMEI or version.',
    c25: 'Invalid project: check PRODUCT_KEY in the scripts against the project\'s ProductKey.',
    c26: 'Invalid firmware: no firmware of this name; check PROJECT and the module\'s BSP.',
    c27: 'Already the latest version: nothing to do.',
    c40: 'Loop upgrade: banned at its 7th download of the package in a day; raise VERSION in the new scripts, then press Unban on the Devices page.',
    c43: 'Please wait: the package is being built; the device asks again.',
    c44: 'Base version missing: upload the firmware the device runs so that a delta can be made.',
    cx: 'Refused request (malformed).',
    rollout: 'Staged rollout', waves: 'Waves (%)', every: 'Advance every', max_failure: 'Pause above failures (%)',
    min_outcomes: 'after outcomes', start: 'Start', pause: 'Pause', resume: 'Resume', advance: 'Next wave',
    abort: 'Abort', wave: 'Wave', open: 'Open', sent: 'Sent', upgraded: 'Upgraded', failed: 'Failed',
    failure_rate: 'Failure rate', no_rollout: 'No rollout: the configuration goes to its devices at once.',
    rl_running: 'Running', rl_paused: 'Paused', rl_aborted: 'Aborted', rl_of: 'wave {w} of {n}, {p}% of devices',
    packages: 'Vendor packages', file: 'File', pkg_file: 'Package file', pkg_to: 'Target version',
    pkg_from: 'Base versions', pkg_to_ph: '1105.1.2 (LuatOS), V1016 (AT)', pkg_from_ph: 'V1103,V1104 or any',
    pkg_intro: 'Files made by the vendor\'s tools (Luatools, the AT delta tool), sent as they are to the devices on the base versions they name.',
    pkg_guessed: 'Filled in from the file name: check them before uploading.',
    pkg_unknown: 'The file name does not say: fill in the firmware name and versions.',
    pkg_confirm: 'Delete package {f}?', deleted: 'Deleted',
    rollouts: 'Rollouts', account: 'Account', users: 'Users', rename: 'Rename', new_key: 'New key', cancel: 'Cancel',
    key_warn: 'Make a new ProductKey for {p}? The old key stops working at once: devices whose scripts still carry it are refused (code 25) until they get the new one.',
    proj_confirm: 'Delete project {p}?', fw_confirm: 'Delete release {f} V{c} {v}?', ban: 'Ban', add_device: 'Add device',
    show_log: 'Log', new_config: 'New configuration', edit: 'Edit', editing: 'Editing the configuration of {f}',
    adding: 'A new configuration', file_read: 'Filled in from the file: check before uploading.',
    file_is: 'This file is: {k}', k_package: 'a luat-fota package', k_core: 'a core image', k_soc: 'a Luatools .soc',
    k_script: 'scripts', k_vendor: 'a vendor package', k_unknown: 'not a known kind of file', k_delta: 'a delta (fotapack)',
    k_archive: 'an archive', k_text: 'a text file', cfg_confirm: 'Delete the configuration of {f}?',
    cfg_exists: 'The project has a configuration for {f} already: press Edit on its row.',
    need_field: '{f}: required', bad_core: 'Core version: like V1104', bad_version: 'Script version: like 1.0.2',
    need_file: '{f}: choose a file', upload_failed: 'Upload failed', save_as: 'Save as', as_package: 'AT delta package (old → new)',
    as_at: 'AT firmware image (the new image)', as_luatos: 'LuatOS release (the new image + scripts)',
    ds_from: 'Old core version', ds_to: 'New core version', change_password: 'Change my password', add_user: 'Add user', reset_password: 'Reset password',
    rr_failures: 'failure rate over the threshold in a wave', rr_paused: 'paused by hand', rr_aborted: 'aborted by hand',
    disable: 'Disable', enable: 'Enable', pw_pending: 'initial password not yet changed', admin: 'Admin', disabled: 'Disabled', state: 'State',
    initial_pw: 'Password of {u}: {p} (shown once; it must be changed at the first login)',
    actions: 'Actions', watching: 'updated {t}', delta_save: 'Save the delta', delta_saved: 'Saved: {n}'
  },
  zh: {
    title: '升级控制台', projects: '项目', firmware: '固件列表', config: '升级配置', devices: '设备', log: '升级日志',
    delta: '差分工具', project: '项目', logout: '退出', login: '登录', user: '账号', password: '密码',
    set_password: '设置新密码', must_change: '初始密码必须先修改才能继续。', old_password: '当前密码',
    new_password: '新密码（至少 8 位）', repeat_password: '再输入一次', save: '保存', project_name: '名称', lua_project: 'PROJECT（main.lua；默认为项目名称）',
    family: '模块系列', create: '创建', name: '名称', created: '日期', kind: '类型', kind_luatos: 'LuatOS 底层固件 + 脚本',
    kind_at: 'AT 固件', kind_package: '预制差分包 (AT)', model: '型号', core_version: '底层版本', script_version: '脚本版本',
    core_file: '底层固件', script_files: '脚本文件', package_file: '升级包', fw_name: '固件名', upload: '上传', size: '大小',
    target: '目标版本', enabled: '启用', all_devices: '升级全部设备', imei_paste: 'IMEI，每行一个或用逗号分隔',
    add: '添加', from_versions: '允许升级的版本', any_version: '任意版本', from_ph: '1103.1.0, 1104.1.0', search: '查询',
    last_checkin: '最后请求', version: '版本', banned: '已禁止', unban: '解除禁止', time: '时间', code: '返回码',
    meaning: '含义与建议', request: '请求', old_image: '旧固件', new_image: '新固件', make_delta: '生成差分包',
    running: '正在生成…', download: '下载', copy: '复制', copied: '已复制', saved: '已保存', remove: '删除', yes: '是',
    no: '否', all: '全部', any: '任意', never: '从未', mismatch: '两次输入的新密码不一致', no_project: '请先创建项目',
    uploading: '上传中', done: '完成', none: '无', sizes: '旧 {o} 字节，新 {n} 字节，差分 {d} 字节（新固件的 {r}%）',
    c0: '已下发升级包：设备开始升级。', c3: '无效设备：检查设备上报的 IMEI。', c17: '没有权限：设备、固件与项目不属于同一账号。',
    c21: '不允许升级：设备或其版本不在升级配置中，请添加 IMEI 或版本。',
    c25: '无效项目：检查脚本中的 PRODUCT_KEY 是否与项目的 ProductKey 一致。',
    c26: '无效固件：没有这个固件名，检查 PROJECT 与模块的 BSP。', c27: '已是最新版本，无需升级。',
    c40: '循环升级：一天内请求超过 6 次已被禁止；请提高新脚本的 VERSION，然后在“设备”页点击“解除禁止”。',
    c43: '请稍候：升级包正在生成，设备会再次请求。', c44: '缺少基础版本：请上传设备当前运行的固件，以便生成差分包。',
    cx: '请求有误，已拒绝。',
    rollout: '分批升级', waves: '批次（%）', every: '自动进入下一批间隔', max_failure: '失败率超过（%）时暂停',
    min_outcomes: '最少结果数', start: '开始', pause: '暂停', resume: '继续', advance: '下一批', abort: '终止',
    wave: '批次', open: '已开放', sent: '已下发', upgraded: '已升级', failed: '失败', failure_rate: '失败率',
    no_rollout: '未分批：配置直接对其设备生效。', rl_running: '进行中', rl_paused: '已暂停', rl_aborted: '已终止',
    rl_of: '第 {w} 批，共 {n} 批，{p}% 的设备',
    packages: '厂商升级包', file: '文件', pkg_file: '升级包文件', pkg_to: '目标版本', pkg_from: '基础版本',
    pkg_to_ph: '1105.1.2（LuatOS），V1016（AT）', pkg_from_ph: 'V1103,V1104 或 any',
    pkg_intro: '由厂商工具（Luatools、AT 差分工具）生成的升级包，原样下发给其所列基础版本上的设备。',
    pkg_guessed: '已根据文件名填写，请核对后上传。', pkg_unknown: '无法从文件名识别，请填写固件名和版本。',
    pkg_confirm: '删除升级包 {f}？', deleted: '已删除',
    rollouts: '分批升级', account: '账号', users: '用户', rename: '重命名', new_key: '新 ProductKey', cancel: '取消',
    key_warn: '为 {p} 生成新的 ProductKey？旧的立即失效：脚本中仍是旧 ProductKey 的设备将被拒绝（返回码 25），直到换成新的。',
    proj_confirm: '删除项目 {p}？', fw_confirm: '删除固件 {f} V{c} {v}？', ban: '禁止', add_device: '添加设备',
    show_log: '日志', new_config: '新建配置', edit: '编辑', editing: '正在编辑 {f} 的配置', adding: '新建配置',
    file_read: '已根据文件内容填写，请核对后上传。', file_is: '该文件是：{k}', k_package: 'luat-fota 升级包',
    k_core: '底层固件', k_soc: 'Luatools .soc 文件', k_script: '脚本', k_vendor: '厂商升级包', k_unknown: '无法识别的文件', k_delta: '差分包（fotapack）',
    k_archive: '压缩包', k_text: '文本文件', cfg_confirm: '删除 {f} 的升级配置？',
    cfg_exists: '本项目已有 {f} 的配置：请点击该行的“编辑”。',
    need_field: '{f}：必填', bad_core: '底层版本：如 V1104', bad_version: '脚本版本：如 1.0.2', need_file: '{f}：请选择文件',
    upload_failed: '上传失败', save_as: '保存为', as_package: 'AT 差分包（旧 → 新）', as_at: 'AT 固件（新固件）',
    as_luatos: 'LuatOS 固件版本（新固件 + 脚本）', ds_from: '旧底层版本', ds_to: '新底层版本', change_password: '修改我的密码',
    add_user: '添加用户', reset_password: '重置密码', rr_failures: '某批次失败率超过阈值', rr_paused: '手动暂停', rr_aborted: '手动终止',
    disable: '停用', enable: '启用', pw_pending: '尚未修改初始密码', admin: '管理员', disabled: '已停用',
    state: '状态', initial_pw: '{u} 的密码：{p}（仅显示一次；首次登录时必须修改）', actions: '操作', watching: '更新于 {t}',
    delta_save: '保存差分包', delta_saved: '已保存：{n}'
  }
};

/* The server's error codes (docs/server.md "Console error codes") in
 * Chinese; English shows the server's own sentence (`error`), which is also
 * the fallback for a code this page does not know. */
const E_ZH = {
  failed: '{detail}', bad_request: '请求有误：{detail}', not_found: '未找到', console_off: '控制台已关闭',
  no_endpoint: '没有这个接口', json_object: '请求须为 JSON 对象', body_too_large: '请求超过 256 KiB',
  not_logged_in: '未登录', csrf: 'X-CSRF-Token 缺失或错误，请刷新页面', must_change_password: '请先修改初始密码',
  busy: '服务器繁忙，请稍后再试', out_of_memory: '服务器内存不足', database: '数据库错误：{detail}',
  field_invalid: '{field}：类型错误或过长', field_required: '{field} 为必填项', login_bad: '账号或密码错误',
  login_throttled: '登录失败次数过多，请 {seconds} 秒后再试', session_failed: '无法建立会话',
  password_length: '密码长度须为 {min}..{max} 个字符', password_digits: '密码不能全为数字',
  password_same: '新密码须与旧密码不同', password_old_wrong: '当前密码错误', password_failed: '无法保存密码',
  admin_only: '仅管理员可以执行此操作', user_invalid: '账号 {user}：1..64 个 [A-Za-z0-9._@-] 字符',
  user_exists: '账号 {user} 已存在', user_unknown: '没有账号 {user}', user_self: '管理员不能停用自己的账号',
  project_invalid: '项目名称：1..{max} 个 UTF-8 字符，不含控制字符', project_unknown: '没有名为“{project}”的项目',
  project_ambiguous: '项目名称“{project}”属于多个账号', project_exists: '未添加项目“{project}”（已有同名项目，或 ProductKey 已被占用）',
  project_in_use: '项目“{project}”仍在使用：{releases} 个固件版本、{packages} 个厂商升级包、{configs} 个升级配置、{rollouts} 个进行中的分批升级',
  key_invalid: 'ProductKey {key}：1..64 个 [A-Za-z0-9_-] 字符', owner_invalid: '所有者 {owner}：1..64 个 [A-Za-z0-9._@-] 字符',
  family_invalid: '模块系列：1..{max} 个 [A-Za-z0-9._-] 字符', firmware_kind: '类型：luatos、at 或 package',
  name_invalid: '{field} 与 BSP 为必填项，只能是 [A-Za-z0-9._-]', name_too_long: '{name} 的固件名过长',
  bsp_invalid: 'BSP {bsp}：只能是 [A-Za-z0-9._-]', core_version_invalid: '底层版本 {value}：如 V1104',
  version_invalid: '版本 {value}：X.Y.Z，均为数字', signing_key_invalid: '签名密钥 {key} 不是可读的 P-256 私钥（PEM）',
  upload_one_file: '{field}：须上传一个文件', upload_scripts: '脚本：请上传脚本文件',
  core_unstorable: '无法保存底层固件（缺失、为空或超过 16 MiB）', scripts_invalid: '脚本有误：{detail}',
  store_failed: '无法保存 {name}', firmware_exists: '未添加固件 {firmware}（该底层与脚本版本已存在？）',
  firmware_unknown: '本项目中没有匹配的固件“{firmware}”', release_unknown: '没有固件版本 {id}',
  release_in_use: '固件 {firmware} 仍在使用：{configs} 个升级配置、{rollouts} 个进行中的分批升级',
  file_mismatch: '{file} 不符合 {field} 的要求：应为 {expected}，实际是 {found}',
  at_package_invalid: '不是该型号与 BSP 的 AT 差分包：{detail}', config_imeis_required: 'IMEI：至少一个，或选择全部设备',
  config_from_required: '允许升级的版本：至少一个，或选择任意版本', config_unknown: '本项目中没有配置 {id}',
  list_item_invalid: '列表项有误（为空或过长）', list_too_long: '超过 {max} 项',
  imei_invalid: 'IMEI {imei}：15 位数字且校验位正确', from_invalid: '版本“{value}”不是 CORE.x.z 格式（如 1103.1.1）',
  bool_invalid: '{field} {value}：只能是 0 或 1', imei_required: 'IMEI 为必填项', device_unknown: '没有设备 {imei}',
  device_other_account: '设备 {imei} 属于其他账号', device_action: '设备操作：add、ban 或 unban',
  imei_search_invalid: 'IMEI 查询：最多 15 位数字', date_invalid: '日期 {date}：YYYY-MM-DD',
  package_unknown: '没有升级包 {id}', package_in_use: '升级包 {id} 仍在使用：{configs} 个升级配置、{rollouts} 个进行中的分批升级',
  package_fields_required: '添加升级包需要项目和文件', file_name_invalid: '文件名：1..{max} 字节，不含控制字符',
  package_firmware_invalid: '固件名 {firmware}：须为 PROJECT_LuatOS-SoC_BSP 或 MODEL_AT_BSP',
  package_firmware_required: '{file}：请填写固件名（文件名不是 PROJECT_CORE.x.z_LuatOS-SoC_BSP.bin 格式）',
  package_target_required: '{file}：请填写目标版本', package_target_invalid: '目标版本 {value}：CORE.x.z（LuatOS）、CORE.X.Y.Z 或 V<底层>（AT）',
  package_bases_required: '{file}：请填写适用的基础版本（V1101,V1102 或 any）',
  package_bases_invalid: '基础版本 {value}：V<底层>,...（最多 {max} 个，不重复）或 any',
  package_base_is_target: '基础版本 {base} 就是目标版本自己的底层', package_size_limit: '大小上限：最多 16 MiB',
  package_too_large: '{file}：超过 {max} 字节（模块能接受的大小）', package_empty: '{file}：缺失、不可读或为空',
  package_duplicate: '升级包 {id} 已为 {firmware} {base} 提供升级，请先删除它',
  upload_name_invalid: '文件名：1..64 个 [A-Za-z0-9._-] 字符，不以点开头', upload_empty: '上传内容为空',
  upload_too_large: '上传超过 16 MiB', upload_unknown: '没有这个上传', upload_too_many_files: '一次上传超过 {max} 个文件',
  upload_file_exists: '该文件已在本次上传中', upload_incomplete: '上传未完成', upload_failed: '无法保存上传的文件',
  delta_fields: '旧固件与新固件：须为上传编号', delta_unavailable: '本服务器不能生成差分包', delta_busy: '差分工具繁忙，请稍后再试',
  delta_unknown: '没有这个差分任务', delta_not_ready: '差分包尚未生成', delta_failed: '差分包生成失败',
  rollout_fields: '分批升级：参数有误', rollout_action: '分批升级：操作须为 start、status、pause、resume、abort 或 advance',
  rollout_waves_invalid: '批次：递增的百分比，最多 2 位小数，每个 0 < p <= 100，最多 16 批：“{value}”',
  rollout_every_invalid: '间隔：如 30s、10m、1h 或 2d，最多 366 天：“{value}”',
  rollout_max_failure_invalid: '失败率：0..100 的百分比（最多 2 位小数）：“{value}”',
  rollout_min_outcomes_invalid: '最少结果数：1..1000000：“{value}”', rollout_running: '该配置已有进行中或暂停的分批升级，请先终止',
  rollout_none: '{action}：该配置没有进行中或暂停的分批升级', rollout_last_wave: '下一批：已是最后一批',
  rollout_changed: '下一批：分批升级已发生变化，请查看其状态', rollout_state: '{action}：分批升级当前为 {state}',
  rollout_config_unknown: '项目“{project}”中没有固件“{firmware}”的配置', rollout_missing: '找不到该分批升级',
  delta_save_fields: '保存差分包：需要项目、保存类型（固件版本或厂商升级包）及其字段'
};

const $ = (id) => document.getElementById(id);
const st = { me: null, lang: 'en', project: '', imeis: [], firmware: [], configs: [], cfgEdit: null, ups: {}, delta: null,
  rlTimer: null };

function t(k) { return (T[st.lang] && T[st.lang][k]) || T.en[k] || k; }
/* a text with its {name} places filled from args */
function fmt(text, args) {
  return text.replace(/\{(\w+)\}/g, (m, k) => (args && args[k] !== undefined && args[k] !== null ? String(args[k]) : m));
}
function tf(k, args) { return fmt(t(k), args); }

/* An API error in the page's language: the code's translation with its args,
 * else the server's English sentence. */
function errText(j, fallback) {
  const zh = st.lang === 'zh' && j && j.code && E_ZH[j.code];
  if (zh) {
    const args = Object.assign({}, j.args);
    /* file kinds inside an argument are words of this page too */
    ['expected', 'found'].forEach((a) => { if (T.en['k_' + args[a]]) args[a] = t('k_' + args[a]); });
    return fmt(zh, args);
  }
  return (j && j.error) || fallback;
}

class ApiError extends Error {
  constructor(j, status, fallback) {
    super(errText(j, fallback));
    this.code = j && j.code;
    this.args = (j && j.args) || {};
    this.status = status;
  }
}

function pickLang() {
  const saved = localStorage.getItem('lang');
  st.lang = saved || ((navigator.language || '').toLowerCase().startsWith('zh') ? 'zh' : 'en');
  $('lang').value = st.lang;
  document.documentElement.lang = st.lang;
  document.querySelectorAll('[data-i18n]').forEach((e) => { e.textContent = t(e.dataset.i18n); });
  document.querySelectorAll('[data-i18n-ph]').forEach((e) => { e.placeholder = t(e.dataset.i18nPh); });
}

function say(text, bad) {
  const m = $('msg');
  m.textContent = text || '';
  m.className = bad ? 'bad' : '';
}

async function api(method, path, body) {
  const h = { Accept: 'application/json' };
  if (method !== 'GET') h['X-CSRF-Token'] = st.me ? st.me.csrf : '';
  if (body !== undefined) h['Content-Type'] = 'application/json';
  const r = await fetch('/console/api/' + path, {
    method, headers: h, credentials: 'same-origin', body: body === undefined ? undefined : JSON.stringify(body)
  });
  const j = await r.json().catch(() => ({ error: r.statusText }));
  if (r.status === 401 && path !== 'login') { st.me = null; show(); }
  if (!r.ok) throw new ApiError(j, r.status, r.statusText);
  return j;
}

/* One file to /console/api/upload (into an existing upload: its id), with
 * progress; name: what it is stored as (default: the file's own name). */
function uploadFile(file, into, bar, name) {
  return new Promise((resolve, reject) => {
    const x = new XMLHttpRequest();
    let q = 'name=' + encodeURIComponent(name || file.name.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, ''));
    if (into) q += '&into=' + into;
    x.open('POST', '/console/api/upload?' + q);
    x.setRequestHeader('X-CSRF-Token', st.me.csrf);
    x.setRequestHeader('Content-Type', 'application/octet-stream');
    if (bar) {
      bar.hidden = false;
      x.upload.onprogress = (e) => { if (e.lengthComputable) bar.value = Math.round(100 * e.loaded / e.total); };
    }
    x.onload = () => {
      let j = {};
      try { j = JSON.parse(x.responseText); } catch (e) { j = { error: x.statusText }; }
      if (x.status === 200) resolve(j); else reject(new ApiError(j, x.status, t('upload_failed')));
    };
    x.onerror = () => reject(new Error(t('upload_failed')));
    x.send(file);
  });
}

async function uploadAll(files, bar) {
  let id = null;
  for (const f of files) id = (await uploadFile(f, id, bar)).id;
  return id;
}

function resetBar(bar) { bar.value = 0; bar.hidden = true; }

function cell(tr, text) {
  const td = document.createElement('td');
  td.textContent = text;
  tr.appendChild(td);
  return td;
}

function button(td, label, fn, cls) {
  const b = document.createElement('button');
  b.type = 'button';
  b.textContent = label;
  if (cls) b.className = cls;
  b.addEventListener('click', fn);
  td.appendChild(b);
  return b;
}

/* A table's rows; each cell names its column (data-label) so that a phone
 * shows every row as a card (style.css). */
function rows(table, items, fill) {
  const tb = $(table).querySelector('tbody');
  const heads = [...$(table).querySelectorAll('thead th')].map((h) => h.textContent);
  tb.textContent = '';
  items.forEach((it) => {
    const tr = document.createElement('tr');
    fill(tr, it);
    tr.querySelectorAll('td').forEach((td, i) => { if (heads[i]) td.dataset.label = heads[i]; });
    tb.appendChild(tr);
  });
}

const when = (ms) => (ms ? new Date(ms).toLocaleString(st.lang === 'zh' ? 'zh-CN' : 'en') : t('never'));

/* ---- pages ---- */

async function loadProjects() {
  const j = await api('GET', 'projects');
  const sel = $('project-select');
  sel.textContent = '';
  j.items.forEach((p) => { const o = document.createElement('option'); o.value = o.textContent = p.name; sel.appendChild(o); });
  if (!j.items.some((p) => p.name === st.project)) st.project = j.items.length ? j.items[0].name : '';
  sel.value = st.project;
  return j.items;
}

function fwName() {
  const k = $('fw-kind').value;
  return k === 'luatos' ? ($('fw-lua-project').value || st.project) + '_LuatOS-SoC_' + $('fw-bsp').value
    : $('fw-model').value + '_AT_' + $('fw-bsp').value;
}

function fwKind() {
  const k = $('fw-kind').value;
  document.querySelectorAll('.lua-only').forEach((e) => { e.hidden = k !== 'luatos'; });
  document.querySelectorAll('.at-only').forEach((e) => { e.hidden = k === 'luatos'; });
  document.querySelectorAll('.pkg-only').forEach((e) => { e.hidden = k !== 'package'; });
  document.querySelectorAll('.not-pkg').forEach((e) => { e.hidden = k === 'package'; });
  $('fw-name').textContent = fwName();
}

/* A release's file chosen: it is uploaded at once and the server says what
 * its bytes are (upload/info); the form is filled from that, for the user to
 * check. The upload's id is kept for the release (st.ups[input]). */
/* The scripts' main.lua names their PROJECT and VERSION (read here, in the
 * browser): into the fields version and project. */
async function mainLua(files, version, project) {
  const f = [...files].find((x) => x.name === 'main.lua');
  if (!f || f.size > 1 << 20) return;
  const text = await f.text(), get = (k) => (text.match(new RegExp('^\\s*' + k + '\\s*=\\s*"([^"]{1,64})"', 'm')) || [])[1];
  if (get('VERSION')) $(version).value = get('VERSION');
  if (get('PROJECT')) $(project).value = get('PROJECT');
}

function fwChosen(input) {
  const files = $(input).files, bar = $('fw-progress');
  if (!files.length) { delete st.ups[input]; return; }
  if (input === 'fw-script') mainLua(files, 'fw-version', 'fw-lua-project').then(fwKind, () => {});
  const p = (async () => {
    const id = await uploadAll(files, bar);
    resetBar(bar);
    const info = await api('GET', 'upload/info?id=' + encodeURIComponent(id));
    const set = (field, v) => { if (v) $(field).value = v; };
    if (input === 'fw-script') await mainLua(files, 'fw-version', 'fw-lua-project');
    if (info.bsp) set('fw-bsp', info.bsp);
    if (input === 'fw-script') set('fw-version', info.version);
    else if (info.core) set('fw-core-version', info.core);
    if (info.model) set('fw-model', info.model);
    if (input === 'fw-core' && info.kind === 'soc' && info.version) set('fw-version', info.version);
    const expect = { 'fw-core': ['core'], 'fw-script': ['script'], 'fw-package': ['package'] }[input];
    const h = $('fw-hint');
    h.hidden = false;
    h.textContent = expect.includes(info.kind) ? t('file_read') : tf('file_is', { k: t('k_' + info.kind) || info.kind });
    h.className = expect.includes(info.kind) ? 'hint' : 'hint bad';
    fwKind();
    return id;
  })();
  st.ups[input] = p;
  p.catch((e) => { resetBar(bar); if (st.ups[input] === p) delete st.ups[input]; say(e.message, true); });
}

/* The release form's fields, checked before anything is uploaded. */
function fwCheck() {
  const k = $('fw-kind').value, need = (id, label) => {
    if (!$(id).value.trim()) throw new Error(tf('need_field', { f: t(label) }));
  };
  const file = (id, label) => { if (!$(id).files.length) throw new Error(tf('need_file', { f: t(label) })); };
  need('fw-bsp', 'BSP');
  if (k === 'package') return file('fw-package', 'package_file');
  need('fw-core-version', 'core_version');
  if (!/^V\d{1,5}$/i.test($('fw-core-version').value.trim())) throw new Error(t('bad_core'));
  if (k === 'at') { need('fw-model', 'model'); return file('fw-core', 'core_file'); }
  need('fw-version', 'script_version');
  if (!/^\d+\.\d+\.\d+$/.test($('fw-version').value.trim())) throw new Error(t('bad_version'));
  /* the release's name holds the devices' PROJECT: the field, else the project's name */
  if (!/^[A-Za-z0-9._-]+$/.test($('fw-lua-project').value.trim() || st.project)) {
    throw new Error(tf('need_field', { f: t('lua_project') }));
  }
  file('fw-core', 'core_file');
  file('fw-script', 'script_files');
}

/* A vendor file's name as the upload takes it (1..64 of [A-Za-z0-9._-]):
 * the fields are sent as the user confirmed them, so the shown name only
 * has to stay recognisable; over 64 it keeps its start and its extension. */
function vendorUploadName(n) {
  n = n.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '') || 'package.bin';
  if (n.length <= 64) return n;
  const dot = n.lastIndexOf('.'), ext = dot > 0 && n.length - dot <= 8 ? n.slice(dot) : '';
  return n.slice(0, 64 - ext.length) + ext;
}

function pkgHint(key) {
  const h = $('pkg-hint');
  h.hidden = !key;
  if (key) { h.dataset.i18n = key; h.textContent = t(key); }
}

/* A file chosen: the form filled from what its name says, for the user to check. */
async function pkgGuess() {
  const f = $('pkg-file').files[0];
  if (!f) return pkgHint('');
  const g = await api('GET', 'packages/guess?name=' + encodeURIComponent(f.name));
  if (g.firmware) $('pkg-firmware').value = g.firmware;
  if (g.to) $('pkg-to').value = g.to;
  if (g.from) $('pkg-from').value = g.from;
  pkgHint(g.known ? 'pkg_guessed' : 'pkg_unknown');
}

function drawImeis() {
  const ul = $('cfg-imei-list');
  ul.textContent = '';
  st.imeis.forEach((im) => {
    const li = document.createElement('li');
    li.textContent = im + ' ';
    button(li, t('remove'), () => { st.imeis = st.imeis.filter((x) => x !== im); drawImeis(); });
    ul.appendChild(li);
  });
  $('cfg-imei-box').hidden = $('cfg-all').checked;
  $('cfg-from').hidden = $('cfg-any').checked;
}

/* The configuration form shows exactly one configuration of this project
 * (c), or a new one's defaults: never what an earlier project left in it. */
function cfgFill(c) {
  st.cfgEdit = c || null;
  const sel = $('cfg-target');
  if (c) sel.value = c.firmware_id;
  else if (sel.options.length) sel.selectedIndex = 0;
  $('cfg-enabled').checked = c ? c.enabled : true;
  $('cfg-all').checked = c ? c.all : true;
  $('cfg-any').checked = c ? c.any_from : true;
  st.imeis = c ? c.imeis.slice() : [];
  $('cfg-from').value = c ? c.from.join(', ') : '';
  $('cfg-imei-input').value = '';
  $('cfg-editing').textContent = c ? tf('editing', { f: c.firmware }) : t('adding');
  drawImeis();
  document.querySelectorAll('#cfg-table tbody tr').forEach((tr) => {
    tr.classList.toggle('chosen', !!c && tr.dataset.fw === c.firmware);
  });
}

async function rolloutTargets() {
  const j = await api('GET', 'config?project=' + encodeURIComponent(st.project));
  const rf = $('rl-fw'), keep = rf.value;
  rf.textContent = '';
  j.items.forEach((c) => { const o = document.createElement('option'); o.value = o.textContent = c.firmware; rf.appendChild(o); });
  if (j.items.some((c) => c.firmware === keep)) rf.value = keep;
}

function clear(...tables) { tables.forEach((tb) => rows(tb, [], null)); }

const pages = {
  async projects() {
    const items = await loadProjects();
    rows('proj-table', items, (tr, p) => {
      const name = cell(tr, p.name);
      const td = cell(tr, '');
      td.className = 'key';
      const code = document.createElement('code');
      code.textContent = p.key;
      td.appendChild(code);
      button(td, t('copy'), async (ev) => {
        try { await navigator.clipboard.writeText(p.key); } catch (e) { /* no clipboard without https: select it */ }
        const r = document.createRange();
        r.selectNodeContents(code);
        getSelection().removeAllRanges();
        getSelection().addRange(r);
        ev.target.textContent = t('copied');
      });
      cell(tr, p.family);
      cell(tr, when(p.created));
      const acts = cell(tr, '');
      button(acts, t('rename'), () => {
        /* the name's cell becomes a small form */
        name.textContent = '';
        const f = document.createElement('form');
        f.className = 'inline';
        const i = document.createElement('input');
        i.value = p.name;
        i.required = true;
        f.appendChild(i);
        const ok = document.createElement('button');
        ok.textContent = t('save');
        f.appendChild(ok);
        button(f, t('cancel'), () => act(pages.projects));
        f.addEventListener('submit', (e) => {
          e.preventDefault();
          act(async () => {
            await api('POST', 'projects/edit', { project: p.name, name: i.value });
            if (st.project === p.name) st.project = i.value;
            await pages.projects();
            say(t('saved') + ': ' + i.value);
          });
        });
        name.appendChild(f);
        i.focus();
      });
      button(acts, t('new_key'), () => act(async () => {
        if (!confirm(tf('key_warn', { p: p.name }))) return;
        const k = await api('POST', 'projects/key', { project: p.name });
        await pages.projects();
        say(t('saved') + ': ' + p.name + ' ' + k.key);
      }));
      button(acts, t('remove'), () => act(async () => {
        if (!confirm(tf('proj_confirm', { p: p.name }))) return;
        await api('POST', 'projects/remove', { project: p.name });
        await pages.projects();
        say(t('deleted') + ': ' + p.name);
      }));
    });
  },
  async firmware() {
    clear('fw-table');
    await loadProjects();
    fwKind();
    if (!st.project) return say(t('no_project'), true);
    const j = await api('GET', 'firmware?project=' + encodeURIComponent(st.project));
    rows('fw-table', j.items.slice().reverse(), (tr, f) => {
      cell(tr, f.name); cell(tr, 'V' + f.core); cell(tr, f.version); cell(tr, f.size); cell(tr, when(f.created));
      button(cell(tr, ''), t('remove'), () => act(async () => {
        if (!confirm(tf('fw_confirm', { f: f.name, c: f.core, v: f.version }))) return;
        await api('POST', 'firmware/remove', { project: st.project, id: f.id });
        await pages.firmware();
        say(t('deleted') + ': ' + f.name + ' V' + f.core + ' ' + f.version);
      }));
    });
  },
  async packages() {
    clear('pkg-table');
    await loadProjects();
    if (!st.project) return say(t('no_project'), true);
    const j = await api('GET', 'packages?project=' + encodeURIComponent(st.project));
    rows('pkg-table', j.items.slice().reverse(), (tr, p) => {
      cell(tr, p.file_name);
      cell(tr, p.firmware);
      cell(tr, 'V' + p.core + ' ' + p.version);
      cell(tr, p.bases.map((b) => (b === 'any' ? t('any') : b)).join(', '));
      cell(tr, p.size).title = 'SHA-256 ' + p.sha256;
      cell(tr, when(p.created));
      button(cell(tr, ''), t('remove'), () => act(async () => {
        if (!confirm(t('pkg_confirm').replace('{f}', p.file_name))) return;
        await api('POST', 'packages/remove', { id: p.id });
        await pages.packages();
        say(t('deleted') + ': ' + p.file_name);
      }));
    });
  },
  async config() {
    clear('cfg-table');
    $('cfg-target').textContent = '';
    cfgFill(null);
    await loadProjects();
    if (!st.project) return say(t('no_project'), true);
    const project = st.project, p = encodeURIComponent(project);
    const [fw, cfg] = await Promise.all([api('GET', 'firmware?project=' + p), api('GET', 'config?project=' + p)]);
    if (project !== st.project) return;   /* another project picked meanwhile: its own load fills the page */
    st.firmware = fw.items;
    st.configs = cfg.items;
    const sel = $('cfg-target');
    fw.items.slice().reverse().forEach((f) => {
      const o = document.createElement('option');
      o.value = f.id;
      o.textContent = f.name + ' V' + f.core + ' ' + f.version;
      sel.appendChild(o);
    });
    rows('cfg-table', cfg.items, (tr, c) => {
      tr.dataset.fw = c.firmware;
      cell(tr, c.firmware); cell(tr, 'V' + c.core + ' ' + c.version); cell(tr, c.enabled ? t('yes') : t('no'));
      cell(tr, c.all ? t('all') : c.imeis.join(', ') || t('none'));
      cell(tr, c.any_from ? t('any') : c.from.join(', '));
      const td = cell(tr, '');
      button(td, t('edit'), () => cfgFill(c), 'cfg-edit');
      button(td, t('remove'), () => act(async () => {
        if (!confirm(tf('cfg_confirm', { f: c.firmware }))) return;
        await api('POST', 'config/remove', { project: st.project, id: c.id });
        await pages.config();
        say(t('deleted') + ': ' + c.firmware);
      }), 'cfg-remove');
    });
    /* the configuration picked before (same project), else the first, else a new one */
    const again = st.cfgKeep && st.cfgKeep.project === project && cfg.items.find((c) => c.firmware === st.cfgKeep.firmware);
    cfgFill(again || cfg.items[0] || null);
  },
  async rollouts() {
    clear('rl-table');
    $('rl-fw').textContent = '';
    await loadProjects();
    if (!st.project) return say(t('no_project'), true);
    await rolloutTargets();
    await rolloutShow();
  },
  async devices() {
    clear('dev-table');
    await loadProjects();
    if (!st.project) return say(t('no_project'), true);
    const q = $('dev-search').value.trim();
    const j = await api('GET', 'devices?project=' + encodeURIComponent(st.project) + (q ? '&imei=' + encodeURIComponent(q) : ''));
    rows('dev-table', j.items, (tr, d) => {
      cell(tr, d.imei); cell(tr, when(d.last)); cell(tr, d.version); cell(tr, d.banned ? t('yes') : t('no'));
      const td = cell(tr, '');
      const flip = d.banned ? 'unban' : 'ban';
      button(td, t(flip), () => act(async () => {
        await api('POST', 'devices/' + flip, { imei: d.imei, project: st.project });
        await pages.devices();
        say(t('saved') + ': ' + d.imei);
      }), 'dev-' + flip);
      button(td, t('show_log'), () => {
        $('log-imei').value = d.imei;
        $('log-date').value = '';
        location.hash = 'log';
      }, 'dev-log');
    });
  },
  async log() {
    /* what is shown belongs to the IMEI searched now, or to nothing */
    clear('log-table');
    const imei = $('log-imei').value.trim();
    if (!imei) return;
    const d = $('log-date').value;
    const j = await api('GET', 'log?imei=' + encodeURIComponent(imei) + (d ? '&date=' + d : ''));
    rows('log-table', j.items, (tr, l) => {
      cell(tr, when(l.ts));
      cell(tr, l.code);
      /* the text is the page's own for the code; the server's English note only in English */
      cell(tr, T.en['c' + l.code] ? t('c' + l.code) : t('cx'));
      cell(tr, l.request + (l.msg && st.lang === 'en' ? ' — ' + l.msg : ''));
    });
  },
  async delta() {
    await loadProjects();
  },
  async account() {
    clear('user-table');
    $('users').hidden = !st.me.admin;
    if (!st.me.admin) return;
    const j = await api('GET', 'users');
    rows('user-table', j.items || j, (tr, u) => {
      cell(tr, u.user);
      cell(tr, u.admin ? t('admin') : '');
      cell(tr, u.disabled ? t('disabled') : u.must_change ? t('pw_pending') : '');
      cell(tr, when(u.created));
      const td = cell(tr, '');
      if (u.user === st.me.user) return;   /* one's own password: the form above */
      button(td, t('reset_password'), () => act(async () => {
        const r = await api('POST', 'users/reset', { user: u.user });
        await pages.account();
        say(tf('initial_pw', { u: u.user, p: r.password }));
      }), 'user-reset');
      if (!u.admin) {
        button(td, u.disabled ? t('enable') : t('disable'), () => act(async () => {
          await api('POST', 'users/disable', { user: u.user, disabled: !u.disabled });
          await pages.account();
          say(t('saved') + ': ' + u.user);
        }), 'user-disable');
      }
    });
  }
};

/* Why a rollout stopped, as server/rollout.c words it: the page's own text. */
const RL_REASON = { 'failure rate over the threshold in a wave': 'rr_failures', 'paused by command': 'rr_paused',
  'aborted by command': 'rr_aborted' };

/* The rollout of the configuration picked in #rl-fw: its status, or none;
 * while it runs the page asks again every few seconds. */
async function rolloutShow(j) {
  clearTimeout(st.rlTimer);
  const fw = $('rl-fw').value;
  if (!j && fw) j = await api('GET', 'rollout?project=' + encodeURIComponent(st.project) + '&firmware=' + encodeURIComponent(fw));
  if (j && j.state === 'none') j = null;
  const live = j && (j.state === 'running' || j.state === 'paused');
  $('rl-state').textContent = !j ? t('no_rollout') : t('rl_' + j.state) + ' — ' + tf('rl_of',
    { w: j.wave, n: j.waves.length, p: j.share_percent }) + (j.reason ? ' (' + (RL_REASON[j.reason] ? t(RL_REASON[j.reason]) : j.reason) + ')' : '');
  $('rl-when').textContent = j ? tf('watching', { t: new Date().toLocaleTimeString(st.lang === 'zh' ? 'zh-CN' : 'en') }) : '';
  $('rl-pause').hidden = !j || j.state !== 'running';
  $('rl-resume').hidden = !j || j.state !== 'paused';
  $('rl-advance').hidden = !live || j.wave >= j.waves.length;
  $('rl-abort').hidden = !live;
  $('rl-start').disabled = !fw || live;
  rows('rl-table', j ? j.waves : [], (tr, w) => {
    cell(tr, w.wave); cell(tr, w.percent); cell(tr, w.open ? t('yes') : t('no')); cell(tr, w.sent);
    cell(tr, w.upgraded); cell(tr, w.failed); cell(tr, w.failure_percent === null ? '—' : w.failure_percent + '%');
  });
  if (live) {
    st.rlTimer = setTimeout(() => {
      if (!$('page-rollouts').hidden && $('rl-fw').value === fw) act(() => rolloutShow());
    }, 3000);
  }
}

async function rolloutAct(action) {
  const body = { project: st.project, firmware: $('rl-fw').value, action };
  if (action === 'start') {
    body.waves = $('rl-waves').value.replace(/\s+/g, '');
    if ($('rl-every').value.trim()) body.every = $('rl-every').value.trim();
    body.max_failure = $('rl-maxf').value.trim();
    body.min_outcomes = $('rl-minout').value.trim();
  }
  await rolloutShow(await api('POST', 'rollout', body));
}

async function act(fn) {
  try { say(''); await fn(); } catch (e) { say(e.message, true); }
}

/* The page of the hash; body[data-state] says "PAGE loading|ready" (tests wait for it). */
async function show() {
  const logged = !!st.me, must = logged && st.me.must_change;
  let page = location.hash.slice(1) || 'projects';
  if (!logged) page = 'login';
  else if (must) page = 'password';
  else if (!pages[page]) page = 'projects';
  document.querySelectorAll('main > section').forEach((s) => { s.hidden = s.id !== 'page-' + page; });
  $('nav').hidden = !logged || must;
  $('logout').hidden = !logged;
  $('project-pick').hidden = !logged || must ||
    !['firmware', 'packages', 'config', 'rollouts', 'devices', 'delta'].includes(page);
  $('who').textContent = logged ? st.me.user : '';
  document.querySelectorAll('#nav a').forEach((a) => { a.className = a.hash === '#' + page ? 'on' : ''; });
  const mark = ++st.shown;
  document.body.dataset.state = page + ' loading';
  if (pages[page] && logged && !must) await act(pages[page]);
  if (mark === st.shown) document.body.dataset.state = page + ' ready';
}
st.shown = 0;

function on(id, ev, fn) { $(id).addEventListener(ev, fn); }

function submit(id, fn) {
  on(id, 'submit', (e) => { e.preventDefault(); act(fn); });
}

function wire() {
  on('lang', 'change', () => { localStorage.setItem('lang', $('lang').value); pickLang(); show(); });
  on('project-select', 'change', () => { st.project = $('project-select').value; show(); });
  window.addEventListener('hashchange', () => { say(''); show(); });
  on('logout', 'click', () => act(async () => { await api('POST', 'logout', {}); st.me = null; show(); }));
  submit('login-form', async () => {
    st.me = await api('POST', 'login', { user: $('login-user').value, password: $('login-pass').value });
    $('login-pass').value = '';
    show();
  });
  const password = async (pre) => {
    if ($(pre + '-new').value !== $(pre + '-new2').value) throw new Error(t('mismatch'));
    st.me = await api('POST', 'password', { old: $(pre + '-old').value, new: $(pre + '-new').value });
    [pre + '-old', pre + '-new', pre + '-new2'].forEach((i) => { $(i).value = ''; });
    await show();
    say(t('saved'));
  };
  submit('pw-form', () => password('pw'));
  submit('mypw-form', () => password('mypw'));
  submit('user-form', async () => {
    const u = $('user-name').value.trim();
    const r = await api('POST', 'users', { user: u });
    $('user-name').value = '';
    await pages.account();
    say(tf('initial_pw', { u, p: r.password }));
  });
  submit('proj-form', async () => {
    const p = await api('POST', 'projects', { name: $('proj-name').value, family: $('proj-family').value });
    st.project = p.name;
    $('proj-name').value = '';
    await pages.projects();
    say(t('saved') + ': ' + p.name + ' ' + p.key);
  });
  ['fw-kind', 'fw-bsp', 'fw-model', 'fw-lua-project'].forEach((i) => on(i, 'input', fwKind));
  ['fw-core', 'fw-script', 'fw-package'].forEach((i) => on(i, 'change', () => { say(''); fwChosen(i); }));
  submit('fw-form', async () => {
    const kind = $('fw-kind').value, bar = $('fw-progress'), btn = $('fw-btn');
    btn.disabled = true;
    try {
      /* the chosen files are read first (they fill the fields), then every field is checked */
      const up = async (i) => (st.ups[i] ? st.ups[i] : uploadAll($(i).files, bar));
      const ids = {};
      for (const i of kind === 'package' ? ['fw-package'] : kind === 'at' ? ['fw-core'] : ['fw-core', 'fw-script']) {
        if ($(i).files.length) ids[i] = await up(i);
      }
      fwCheck();
      const body = { kind, project: st.project, bsp: $('fw-bsp').value.trim(), model: $('fw-model').value.trim(),
        lua_project: kind === 'luatos' ? $('fw-lua-project').value.trim() : '',
        core_version: $('fw-core-version').value.trim(),
        version: kind === 'at' ? $('fw-core-version').value.trim() : $('fw-version').value.trim() };
      if (kind === 'package') body.package = ids['fw-package'];
      else body.core = ids['fw-core'];
      if (kind === 'luatos') body.script = ids['fw-script'];
      say(t('uploading'));
      const name = fwName();
      await api('POST', 'firmware', body);
      ['fw-core', 'fw-script', 'fw-package'].forEach((i) => { $(i).value = ''; delete st.ups[i]; });
      $('fw-hint').hidden = true;
      await pages.firmware();
      say(t('saved') + ': ' + name);
    } finally {
      /* done or refused: the bar starts again from 0 */
      resetBar(bar);
      btn.disabled = false;
    }
  });
  on('pkg-file', 'change', () => act(pkgGuess));
  submit('pkg-form', async () => {
    const f = $('pkg-file').files[0], bar = $('pkg-progress'), btn = $('pkg-btn');
    btn.disabled = true;
    try {
      say(t('uploading'));
      const up = await uploadFile(f, null, bar, vendorUploadName(f.name));
      const body = { project: st.project, upload: up.id, firmware: $('pkg-firmware').value.trim(),
        to: $('pkg-to').value.trim(), from: $('pkg-from').value.replace(/\s+/g, '') };
      const p = await api('POST', 'packages', body);
      ['pkg-file', 'pkg-firmware', 'pkg-to', 'pkg-from'].forEach((i) => { $(i).value = ''; });
      pkgHint('');
      await pages.packages();
      say(t('saved') + ': ' + p.file_name + ' → V' + p.core + ' ' + p.version);
    } finally {
      resetBar(bar);
      btn.disabled = false;
    }
  });
  on('cfg-all', 'change', drawImeis);
  on('cfg-any', 'change', drawImeis);
  on('cfg-new', 'click', () => cfgFill(null));
  on('cfg-imei-add', 'click', () => {
    $('cfg-imei-input').value.split(/[\s,;]+/).filter((x) => x).forEach((x) => { if (!st.imeis.includes(x)) st.imeis.push(x); });
    $('cfg-imei-input').value = '';
    drawImeis();
  });
  submit('cfg-form', async () => {
    const f = st.firmware.find((x) => String(x.id) === $('cfg-target').value);
    if (!f) throw new Error(t('no_project'));
    const all = $('cfg-all').checked, any = $('cfg-any').checked;
    const body = { project: st.project, firmware: f.name, version: f.version, core_version: 'V' + f.core,
      enabled: $('cfg-enabled').checked, all, any_from: any };
    /* editing one: its id (the server changes that one only); a new one for a release name that has
     * one already would change that one: the user edits it instead */
    if (st.cfgEdit) body.id = st.cfgEdit.id;
    else if (st.configs.some((c) => c.firmware === f.name)) throw new Error(tf('cfg_exists', { f: f.name }));
    if (!all) body.imeis = st.imeis;
    if (!any) body.from = $('cfg-from').value.split(/[\s,;]+/).filter((x) => x);
    await api('POST', 'config', body);
    st.cfgKeep = { project: st.project, firmware: f.name };
    await pages.config();
    say(t('saved'));
  });
  submit('rl-form', () => rolloutAct('start'));
  on('rl-fw', 'change', () => act(() => rolloutShow()));
  ['pause', 'resume', 'advance', 'abort'].forEach((a) => on('rl-' + a, 'click', () => act(() => rolloutAct(a))));
  submit('dev-form', () => pages.devices());
  submit('dev-add-form', async () => {
    const imei = $('dev-add-imei').value.trim();
    await api('POST', 'devices/add', { imei, project: st.project });
    $('dev-add-imei').value = '';
    await pages.devices();
    say(t('saved') + ': ' + imei);
  });
  submit('log-form', () => pages.log());
  submit('delta-form', async () => {
    const bar = $('delta-progress');
    $('delta-result').hidden = true;
    st.delta = null;
    try {
      const o = await uploadFile($('delta-old').files[0], null, bar);
      const n = await uploadFile($('delta-new').files[0], null, bar);
      $('delta-running').hidden = false;
      let j = await api('POST', 'delta', { old: o.id, new: n.id });
      while (j.state === 'running') {
        await new Promise((r) => setTimeout(r, 300));
        j = await api('GET', 'delta?id=' + j.id);
      }
      if (j.state !== 'done') throw new ApiError({ code: 'delta_failed', error: 'the delta could not be made' }, 0);
      st.delta = j;
      /* the save form filled from what the two images say */
      const [io, inew] = await Promise.all([api('GET', 'upload/info?id=' + o.id), api('GET', 'upload/info?id=' + n.id)]);
      if (io.core) $('ds-from').value = io.core;
      if (inew.core) $('ds-core').value = inew.core;
      if (inew.bsp || io.bsp) $('ds-bsp').value = inew.bsp || io.bsp;
      $('delta-sizes').textContent = tf('sizes', { o: j.old_size, n: j.new_size, d: j.delta_size, r: (100 * j.ratio).toFixed(1) });
      $('delta-download').href = '/console/api/delta/file?id=' + j.id;
      $('delta-result').hidden = false;
    } finally {
      $('delta-running').hidden = true;
      resetBar(bar);
    }
  });
  on('ds-as', 'change', deltaAs);
  on('ds-script', 'change', () => act(() => mainLua($('ds-script').files, 'ds-version', 'ds-lua-project')));
  submit('ds-form', async () => {
    if (!st.delta) throw new Error(t('cx'));
    const as = $('ds-as').value, bar = $('ds-progress');
    const body = { id: st.delta.id, project: st.project, as: as === 'package' ? 'package' : 'release',
      bsp: $('ds-bsp').value.trim(), core_version: $('ds-core').value.trim() };
    if (!/^V\d{1,5}$/i.test(body.core_version)) throw new Error(t('bad_core'));
    if (as !== 'luatos') body.model = $('ds-model').value.trim();
    if (as === 'package') body.from = $('ds-from').value.trim();
    if (as === 'at') body.kind = 'at';
    if (as === 'luatos') {
      body.kind = 'luatos';
      body.version = $('ds-version').value.trim();
      body.lua_project = $('ds-lua-project').value.trim();
      if (!/^\d+\.\d+\.\d+$/.test(body.version)) throw new Error(t('bad_version'));
      if (!$('ds-script').files.length) throw new Error(tf('need_file', { f: t('script_files') }));
      try { body.script = await uploadAll($('ds-script').files, bar); } finally { resetBar(bar); }
    }
    const r = await api('POST', 'delta/save', body);
    say(tf('delta_saved', { n: r.name + ' ' + body.core_version + (body.version ? ' ' + body.version : '') }));
  });
}

function deltaAs() {
  const as = $('ds-as').value;
  document.querySelectorAll('.ds-at').forEach((e) => { e.hidden = as === 'luatos'; });
  document.querySelectorAll('.ds-pkg').forEach((e) => { e.hidden = as !== 'package'; });
  document.querySelectorAll('.ds-lua').forEach((e) => { e.hidden = as !== 'luatos'; });
}

document.addEventListener('DOMContentLoaded', async () => {
  pickLang();
  wire();
  deltaAs();
  try {
    const r = await fetch('/console/api/me', { credentials: 'same-origin' });
    const j = r.ok ? await r.json() : null;
    if (j && j.user) st.me = j;
  } catch (e) { /* offline: the login page */ }
  show();
});
