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
    c40: 'Loop upgrade: banned at its 7th download of the package in a day; raise VERSION in the new scripts, then unban the device.',
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
    pkg_confirm: 'Delete package {f}?', deleted: 'Deleted'
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
    c40: '循环升级：一天内请求超过 6 次已被禁止；请提高新脚本的 VERSION 后解除禁止。',
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
    pkg_confirm: '删除升级包 {f}？', deleted: '已删除'
  }
};

const $ = (id) => document.getElementById(id);
const st = { me: null, lang: 'en', project: '', imeis: [], firmware: [] };

function t(k) { return (T[st.lang] && T[st.lang][k]) || T.en[k] || k; }

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
  if (!r.ok) throw new Error(j.error || r.statusText);
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
      if (x.status === 200) resolve(j); else reject(new Error(j.error || x.statusText));
    };
    x.onerror = () => reject(new Error('upload failed'));
    x.send(file);
  });
}

async function uploadAll(files, bar) {
  let id = null;
  for (const f of files) id = (await uploadFile(f, id, bar)).id;
  return id;
}

function cell(tr, text) {
  const td = document.createElement('td');
  td.textContent = text;
  tr.appendChild(td);
  return td;
}

function button(td, label, fn) {
  const b = document.createElement('button');
  b.type = 'button';
  b.textContent = label;
  b.addEventListener('click', fn);
  td.appendChild(b);
  return b;
}

function rows(table, items, fill) {
  const tb = $(table).querySelector('tbody');
  tb.textContent = '';
  items.forEach((it) => { const tr = document.createElement('tr'); fill(tr, it); tb.appendChild(tr); });
}

const when = (ms) => (ms ? new Date(ms).toLocaleString() : t('never'));

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

const pages = {
  async projects() {
    const items = await loadProjects();
    rows('proj-table', items, (tr, p) => {
      cell(tr, p.name);
      const td = cell(tr, '');
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
    });
  },
  async firmware() {
    await loadProjects();
    fwKind();
    if (!st.project) { rows('fw-table', [], null); return say(t('no_project'), true); }
    const j = await api('GET', 'firmware?project=' + encodeURIComponent(st.project));
    rows('fw-table', j.items.slice().reverse(), (tr, f) => {
      cell(tr, f.name); cell(tr, 'V' + f.core); cell(tr, f.version); cell(tr, f.size); cell(tr, when(f.created));
    });
  },
  async packages() {
    await loadProjects();
    if (!st.project) { rows('pkg-table', [], null); return say(t('no_project'), true); }
    const j = await api('GET', 'packages?project=' + encodeURIComponent(st.project));
    /* each cell names its column: a phone shows the rows stacked (style.css) */
    const heads = [...$('pkg-table').querySelectorAll('th')].map((h) => h.textContent);
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
      tr.querySelectorAll('td').forEach((td, i) => { td.dataset.label = heads[i]; });
    });
  },
  async config() {
    await loadProjects();
    if (!st.project) return say(t('no_project'), true);
    const p = encodeURIComponent(st.project);
    const [fw, cfg] = await Promise.all([api('GET', 'firmware?project=' + p), api('GET', 'config?project=' + p)]);
    st.firmware = fw.items;
    const sel = $('cfg-target');
    sel.textContent = '';
    fw.items.slice().reverse().forEach((f) => {
      const o = document.createElement('option');
      o.value = f.id;
      o.textContent = f.name + ' V' + f.core + ' ' + f.version;
      sel.appendChild(o);
    });
    const cur = cfg.items[0];
    if (cur) {
      sel.value = cur.firmware_id;
      $('cfg-enabled').checked = cur.enabled;
      $('cfg-all').checked = cur.all;
      $('cfg-any').checked = cur.any_from;
      st.imeis = cur.imeis;
      $('cfg-from').value = cur.from.join(', ');
    }
    drawImeis();
    rows('cfg-table', cfg.items, (tr, c) => {
      cell(tr, c.firmware); cell(tr, 'V' + c.core + ' ' + c.version); cell(tr, c.enabled ? t('yes') : t('no'));
      cell(tr, c.all ? t('all') : c.imeis.join(', ') || t('none'));
      cell(tr, c.any_from ? t('any') : c.from.join(', '));
    });
    const rf = $('rl-fw'), keep = rf.value;
    rf.textContent = '';
    cfg.items.forEach((c) => { const o = document.createElement('option'); o.value = o.textContent = c.firmware; rf.appendChild(o); });
    if (cfg.items.some((c) => c.firmware === keep)) rf.value = keep;
    await rolloutShow();
  },
  async devices() {
    await loadProjects();
    if (!st.project) return say(t('no_project'), true);
    const q = $('dev-search').value.trim();
    const j = await api('GET', 'devices?project=' + encodeURIComponent(st.project) + (q ? '&imei=' + encodeURIComponent(q) : ''));
    rows('dev-table', j.items, (tr, d) => {
      cell(tr, d.imei); cell(tr, when(d.last)); cell(tr, d.version); cell(tr, d.banned ? t('yes') : t('no'));
      const td = cell(tr, '');
      if (d.banned) button(td, t('unban'), () => act(async () => { await api('POST', 'devices/unban', { imei: d.imei }); await pages.devices(); }));
    });
  },
  async log() {
    const imei = $('log-imei').value.trim();
    if (!imei) { rows('log-table', [], null); return; }
    const d = $('log-date').value;
    const j = await api('GET', 'log?imei=' + encodeURIComponent(imei) + (d ? '&date=' + d : ''));
    rows('log-table', j.items, (tr, l) => {
      cell(tr, when(l.ts));
      cell(tr, l.code);
      cell(tr, T.en['c' + l.code] ? t('c' + l.code) : t('cx'));
      cell(tr, l.request + (l.msg ? ' — ' + l.msg : ''));
    });
  },
  async delta() {}
};

/* The rollout of the configuration picked in #rl-fw: its status, or none. */
async function rolloutShow(j) {
  const fw = $('rl-fw').value;
  if (!j && fw) j = await api('GET', 'rollout?project=' + encodeURIComponent(st.project) + '&firmware=' + encodeURIComponent(fw));
  if (j && j.state === 'none') j = null;
  const live = j && (j.state === 'running' || j.state === 'paused');
  $('rl-state').textContent = !j ? t('no_rollout') : t('rl_' + j.state) + ' — ' + t('rl_of')
    .replace('{w}', j.wave).replace('{n}', j.waves.length).replace('{p}', j.share_percent) + (j.reason ? ' (' + j.reason + ')' : '');
  $('rl-pause').hidden = !j || j.state !== 'running';
  $('rl-resume').hidden = !j || j.state !== 'paused';
  $('rl-advance').hidden = !live || j.wave >= j.waves.length;
  $('rl-abort').hidden = !live;
  $('rl-start').disabled = !fw || live;
  rows('rl-table', j ? j.waves : [], (tr, w) => {
    cell(tr, w.wave); cell(tr, w.percent); cell(tr, w.open ? t('yes') : t('no')); cell(tr, w.sent);
    cell(tr, w.upgraded); cell(tr, w.failed); cell(tr, w.failure_percent === null ? '—' : w.failure_percent + '%');
  });
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

function show() {
  const logged = !!st.me, must = logged && st.me.must_change;
  let page = location.hash.slice(1) || 'projects';
  if (!logged) page = 'login';
  else if (must) page = 'password';
  else if (!pages[page]) page = 'projects';
  document.querySelectorAll('main > section').forEach((s) => { s.hidden = s.id !== 'page-' + page; });
  $('nav').hidden = !logged || must;
  $('logout').hidden = !logged;
  $('project-pick').hidden = !logged || must || !['firmware', 'packages', 'config', 'devices'].includes(page);
  $('who').textContent = logged ? st.me.user : '';
  document.querySelectorAll('#nav a').forEach((a) => { a.className = a.hash === '#' + page ? 'on' : ''; });
  if (pages[page] && logged && !must) act(pages[page]);
}

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
  submit('pw-form', async () => {
    if ($('pw-new').value !== $('pw-new2').value) throw new Error(t('mismatch'));
    st.me = await api('POST', 'password', { old: $('pw-old').value, new: $('pw-new').value });
    ['pw-old', 'pw-new', 'pw-new2'].forEach((i) => { $(i).value = ''; });
    say(t('saved'));
    show();
  });
  submit('proj-form', async () => {
    const p = await api('POST', 'projects', { name: $('proj-name').value, family: $('proj-family').value });
    st.project = p.name;
    $('proj-name').value = '';
    await pages.projects();
    say(t('saved') + ': ' + p.name + ' ' + p.key);
  });
  ['fw-kind', 'fw-bsp', 'fw-model', 'fw-lua-project'].forEach((i) => on(i, 'input', fwKind));
  submit('fw-form', async () => {
    const kind = $('fw-kind').value, bar = $('fw-progress');
    const body = { kind, project: st.project, bsp: $('fw-bsp').value, model: $('fw-model').value,
      lua_project: kind === 'luatos' ? $('fw-lua-project').value : '',
      core_version: $('fw-core-version').value, version: kind === 'at' ? $('fw-core-version').value : $('fw-version').value };
    say(t('uploading'));
    if (kind === 'package') body.package = await uploadAll($('fw-package').files, bar);
    else body.core = await uploadAll($('fw-core').files, bar);
    if (kind === 'luatos') body.script = await uploadAll($('fw-script').files, bar);
    await api('POST', 'firmware', body);
    ['fw-core', 'fw-script', 'fw-package'].forEach((i) => { $(i).value = ''; });
    bar.hidden = true;
    await pages.firmware();
    say(t('saved') + ': ' + fwName());
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
      /* done or refused: the bar starts again from 0 */
      bar.value = 0;
      bar.hidden = true;
      btn.disabled = false;
    }
  });
  on('cfg-all', 'change', drawImeis);
  on('cfg-any', 'change', drawImeis);
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
    if (!all) body.imeis = st.imeis;
    if (!any) body.from = $('cfg-from').value.split(/[\s,;]+/).filter((x) => x);
    await api('POST', 'config', body);
    await pages.config();
    say(t('saved'));
  });
  submit('rl-form', () => rolloutAct('start'));
  on('rl-fw', 'change', () => act(() => rolloutShow()));
  ['pause', 'resume', 'advance', 'abort'].forEach((a) => on('rl-' + a, 'click', () => act(() => rolloutAct(a))));
  submit('dev-form', () => pages.devices());
  submit('log-form', () => pages.log());
  submit('delta-form', async () => {
    const bar = $('delta-progress');
    $('delta-result').hidden = true;
    const o = await uploadFile($('delta-old').files[0], null, bar);
    const n = await uploadFile($('delta-new').files[0], null, bar);
    $('delta-running').hidden = false;
    let j = await api('POST', 'delta', { old: o.id, new: n.id });
    while (j.state === 'running') {
      await new Promise((r) => setTimeout(r, 300));
      j = await api('GET', 'delta?id=' + j.id);
    }
    $('delta-running').hidden = true;
    bar.hidden = true;
    if (j.state !== 'done') throw new Error('delta failed');
    $('delta-sizes').textContent = t('sizes').replace('{o}', j.old_size).replace('{n}', j.new_size)
      .replace('{d}', j.delta_size).replace('{r}', (100 * j.ratio).toFixed(1));
    $('delta-download').href = '/console/api/delta/file?id=' + j.id;
    $('delta-result').hidden = false;
  });
}

document.addEventListener('DOMContentLoaded', async () => {
  pickLang();
  wire();
  try {
    const r = await fetch('/console/api/me', { credentials: 'same-origin' });
    const j = r.ok ? await r.json() : null;
    if (j && j.user) st.me = j;
  } catch (e) { /* offline: the login page */ }
  show();
});
