"""The console in a real browser: headless Chromium (Debian chromium +
chromium-driver, driven by python3-selenium) logs in, replaces the initial
password, creates a project named as the platform names them (Air7XXE标准模块: UTF-8,
shown and sent back intact) whose releases carry the devices' PROJECT "demo", uploads two releases (the
form filled from what the files are; a text file refused as a core image), sets the IMEI list; a staged
rollout is started, paused and resumed; a device then upgrades over the IoT-platform API, the rollout
counts it and the log page shows its requests (one click from the device list); devices are added,
banned and unbanned; the delta page makes a delta that fotapack patch applies and saves it as a vendor
package; on a 390 px wide phone, a Luatools-named vendor package fills its form, is refused once, added,
listed and deleted; projects are renamed, get a new key, and are deleted or refused; the admin adds a
user, resets and disables it. Regressions: the configuration form never carries one project's settings
into another and edits the configuration chosen; a failed log search leaves no other device's rows.
At the end every page is walked in both languages at 390x844 and 1280x800: a screenshot of each (under
$CONSOLE_OUT/pages), and the page never wider than the window. No page may log a console error but the
refusals the test provokes."""
import base64
import http.client
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from consolelib import BUILD, FOTAPACK, INITIAL, Server, luhn_imei, run  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
OUT = os.path.abspath(os.environ.get("CONSOLE_OUT", "console-browser"))
USER = "13800000000"
PROJECT_NAME = "Air7XXE标准模块"
IMEIS = [luhn_imei("8600000000000%d" % i) for i in (1, 2, 3, 4)]


# the walk's step in the page: show PAGE, wait until its data is loaded (and ROWS rows in the log), answer
# [the document's scroll width, whether the message line shows an error, its text]
WALK_JS = """
const [page, rows, done] = arguments;
location.hash = page;
const check = () => {
  if (document.body.dataset.state !== page + ' ready' ||
      (rows && document.querySelectorAll('#log-table tbody tr').length < rows)) return setTimeout(check, 20);
  const m = document.getElementById('msg');
  done([document.documentElement.scrollWidth, m.className === 'bad', m.textContent]);
};
check();
"""


def sim_env(url):
    """The simulator's environment; with a sanitizer build of fota.so, its runtimes preloaded (lua5.3 is not
    instrumented), as scripts/dev does for busted."""
    env = dict(os.environ, LUAT_FOTA_IOT_URL=url)
    libs = subprocess.run(["ldd", os.path.join(BUILD, "fota.so")], stdout=subprocess.PIPE).stdout.decode()
    if "libasan" in libs:
        env["LD_PRELOAD"] = " ".join(
            subprocess.run(["gcc", "-print-file-name=" + lib], stdout=subprocess.PIPE).stdout.decode().strip()
            for lib in ("libasan.so", "libubsan.so"))
        env["ASAN_OPTIONS"] = "detect_leaks=0"
    return env


def chrome(profile):
    o = webdriver.ChromeOptions()
    o.binary_location = "/usr/bin/chromium"
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--disable-background-networking", "--disable-component-update", "--disable-sync",
              "--no-first-run", "--disable-extensions", "--window-size=1280,1000", "--lang=zh-CN",
              "--user-data-dir=" + profile):
        o.add_argument(a)
    o.add_experimental_option("prefs", {"intl.accept_languages": "zh-CN,zh"})
    o.add_argument("--accept-lang=zh-CN")
    o.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=o)


class Browser(unittest.TestCase):
    def setUp(self):
        shutil.rmtree(OUT, ignore_errors=True)
        os.makedirs(OUT)
        self.keys = tempfile.mkdtemp()
        run(FOTAPACK, "keygen", "-o", os.path.join(self.keys, "key.pem"), "--pub", os.path.join(self.keys, "pub.pem"))
        self.s = Server("--key", os.path.join(self.keys, "key.pem"), users=(USER,))
        self.tmp = tempfile.mkdtemp(dir=self.s.dir)
        self.d = chrome(os.path.join(self.tmp, "profile"))
        # tables are drawn again after each change: a row looked up while that happens is looked up again
        self.d.set_script_timeout(60)
        self.wait = WebDriverWait(self.d, 60, poll_frequency=0.05,
                                  ignored_exceptions=(StaleElementReferenceException, StopIteration))
        self.errors = []

    def tearDown(self):
        self.d.quit()
        self.s.close()
        shutil.rmtree(self.keys, ignore_errors=True)

    def core_image(self, core):
        """The simulated module's factory core image of that version (sim/luatos/simdevice.lua)."""
        lua = ('package.path = "%s/lib/?.lua;%s/sim/luatos/?.lua;" .. package.path '
               'io.write(require("simdevice").core_image("%s"))' % (ROOT, ROOT, core))
        return subprocess.run(["lua5.3", "-e", lua], stdout=subprocess.PIPE, check=True).stdout

    def scripts(self, name, key, version):
        """demo/fota (libfota.request, reboot into the package, confirm) as project demo with key."""
        with open(os.path.join(ROOT, "demo", "fota", "main.lua")) as f:
            text = f.read()
        text = text.replace('PROJECT = "fotademo"', 'PROJECT = "demo"')
        text = text.replace('VERSION = "1.0.1"', 'VERSION = "%s"' % version)
        text = text.replace('PRODUCT_KEY = "DEMO_PRODUCT_KEY"', 'PRODUCT_KEY = "%s"' % key)
        assert 'PROJECT = "demo"' in text and key in text and version in text
        os.makedirs(os.path.join(self.tmp, name))
        return self.file(name + "/main.lua", text.encode())

    def file(self, name, data):
        p = os.path.join(self.tmp, name)
        with open(p, "wb") as f:
            f.write(data)
        return p

    def el(self, id_):
        return self.d.find_element(By.ID, id_)

    def visible(self, id_):
        return self.wait.until(EC.visibility_of_element_located((By.ID, id_)))

    def type(self, id_, text):
        e = self.el(id_)
        e.clear()
        e.send_keys(text)

    def rows(self, table):
        return self.d.find_elements(By.CSS_SELECTOR, "#%s tbody tr" % table)

    def until_rows(self, table, n):
        self.wait.until(lambda d: len(self.rows(table)) >= n)
        return self.rows(table)

    def shot(self, name):
        self.d.save_screenshot(os.path.join(OUT, name + ".png"))
        self.check_console(name)

    def check_console(self, where):
        for entry in self.d.get_log("browser"):
            if entry["level"] == "SEVERE":
                self.errors.append("%s: %s" % (where, entry["message"]))

    def go(self, page):
        """The page shown and its data loaded (body[data-state], app.js show())."""
        self.d.execute_script("location.hash = arguments[0]", page)
        self.visible("page-" + page)
        self.ready(page)

    def ready(self, page):
        self.wait.until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-state") == page + " ready")

    def mark(self, section):
        """The seconds since the last mark, by section (written to $CONSOLE_OUT/seconds)."""
        now = time.time()
        self.marks.append("%-10s %5.1f" % (section, now - self.last))
        self.last = now

    def refused(self, text):
        """The page's error line shows text; the refusals the test provokes are no console errors."""
        self.wait.until(lambda d: "bad" in self.el("msg").get_attribute("class") and self.el("msg").text)
        self.assertIn(text, self.el("msg").text)
        for e in self.d.get_log("browser"):
            if e["level"] == "SEVERE" and not any(c in e["message"] for c in (" 400 ", " 401 ", " 403 ", " 404 ", " 409 ")):
                self.errors.append("refusal: " + e["message"])

    def lang(self, code):
        Select(self.el("lang")).select_by_value(code)

    def pick(self, project, page):
        Select(self.el("project-select")).select_by_visible_text(project)
        self.ready(page)

    def accept(self):
        self.wait.until(EC.alert_is_present())
        self.d.switch_to.alert.accept()

    def row_of(self, table, text):
        return next(r for r in self.rows(table) if text in r.text)

    def release(self, core, script, core_ver, version, n):
        self.go("firmware")
        Select(self.el("fw-kind")).select_by_value("luatos")
        self.type("fw-bsp", "EC618")
        self.type("fw-core-version", core_ver)
        self.type("fw-version", version)
        self.type("fw-lua-project", "demo")
        self.el("fw-core").clear()
        self.el("fw-script").clear()
        self.el("fw-core").send_keys(core)
        self.el("fw-script").send_keys(script)
        self.assertEqual(self.el("fw-name").text, "demo_LuatOS-SoC_EC618")
        self.el("fw-btn").click()
        self.wait.until(lambda d: len(self.rows("fw-table")) >= n or "bad" in self.el("msg").get_attribute("class"))
        self.assertEqual(len(self.rows("fw-table")), n, self.el("msg").text)

    def walk(self):
        """Every page in both languages at a phone's and a laptop's size: a screenshot each, and nothing
        wider than the window (tables become cards or scroll in their own box)."""
        pages = ["projects", "firmware", "packages", "config", "rollouts", "devices", "log", "delta", "account"]
        os.makedirs(os.path.join(OUT, "pages"))
        self.go("firmware")
        self.pick(PROJECT_NAME, "firmware")
        self.d.execute_script("document.getElementById('log-imei').value = arguments[0]", IMEIS[0])
        for w, h in ((390, 844), (1280, 800)):
            self.d.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                                   {"width": w, "height": h, "deviceScaleFactor": 1, "mobile": w < 600})
            for lang in ("zh", "en"):
                self.lang(lang)
                for page in pages:
                    # one round trip: the page shown, its data loaded (the log: the IMEI searched last), then
                    # its width and its message line
                    width, bad, msg = self.d.execute_async_script(WALK_JS, page, 3 if page == "log" else 0)
                    self.assertLessEqual(width, w, "%s %s at %d px" % (page, lang, w))
                    self.assertFalse(bad, msg)
                    if lang == "zh":   # a screenshot of each page at each size (one language: time)
                        shot = self.d.execute_cdp_cmd("Page.captureScreenshot", {"format": "jpeg", "quality": 70})
                        with open(os.path.join(OUT, "pages", "%s-%d.jpg" % (page, w)), "wb") as f:
                            f.write(base64.b64decode(shot["data"]))
        self.d.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
        self.check_console("walk")

    def test_console(self):
        d = self.d
        self.marks, self.last = [], time.time()
        old, new = self.core_image("V1103"), self.core_image("V1104")
        # named as Luatools names core images: the file name says the core version and the bsp
        core1, core2 = self.file("LuatOS-SoC_V1103_EC618.bin", old), self.file("LuatOS-SoC_V1104_EC618.bin", new)

        # login (Chinese labels: the browser's language), then the forced password change
        d.get(self.s.base + "/console/")
        self.visible("page-login")
        self.assertEqual(self.el("login-btn").text, "登录")
        self.shot("01-login")
        # a wrong password: the server's code in Chinese, not its English sentence
        self.type("login-user", USER)
        self.type("login-pass", "not-the-password")
        self.el("login-btn").click()
        self.refused("账号或密码错误")
        self.type("login-pass", INITIAL)
        self.el("login-btn").click()
        self.visible("page-password")
        self.shot("02-password")
        self.type("pw-old", INITIAL)
        self.type("pw-new", "browser-pass-1")
        self.type("pw-new2", "browser-pass-1")
        self.el("pw-btn").click()
        self.visible("page-projects")

        # switch to English and back
        self.lang("en")
        self.assertEqual(self.d.find_element(By.CSS_SELECTOR, "#nav a[href='#log']").text, "Upgrade log")
        self.lang("zh")
        self.assertEqual(self.d.find_element(By.CSS_SELECTOR, "#nav a[href='#log']").text, "升级日志")

        # a project with the platform's kind of name
        self.type("proj-name", PROJECT_NAME)
        Select(self.el("proj-family")).select_by_visible_text("Air780E")
        self.el("proj-btn").click()
        row = self.until_rows("proj-table", 1)[0]
        key = row.find_element(By.TAG_NAME, "code").text
        self.assertEqual(len(key), 32)
        self.assertIn("Air780E", row.text)
        self.assertEqual(row.find_elements(By.TAG_NAME, "td")[0].text, PROJECT_NAME)
        self.check_console("03-projects")

        self.mark("login")
        # a second project with two releases of other names and no configuration (made by the CLI)
        self.s.admin("project", "add", "--name", "B", "--key", "ProjectBKey", "--owner", USER)
        sb = self.scripts("vb", "ProjectBKey", "1.0.0")
        for lua in ("b1", "b2"):
            self.s.admin("firmware", "add", "--project", "B", "--bsp", "EC618", "--core-version", "V1103",
                         "--core", core1, "--script", sb, "--version", "1.0.0", "--lua-project", lua)

        # the release form: a text file is no core image (said when chosen, refused on upload, the progress
        # bar back to 0); fields are checked before the upload
        s1, s2 = self.scripts("v1", key, "1.0.1"), self.scripts("v2", key, "1.0.2")
        self.go("firmware")
        self.el("fw-core").send_keys(self.file("LuatOS-SoC_V1105_EC618.soc", b"just some text\n" * 50))
        self.wait.until(lambda d: self.el("fw-hint").is_displayed() or "bad" in self.el("msg").get_attribute("class"))
        self.assertIn("bad", self.el("fw-hint").get_attribute("class"), self.el("msg").text)
        self.el("fw-script").send_keys(s1)
        self.wait.until(lambda d: self.el("fw-lua-project").get_attribute("value") == "demo")   # its main.lua
        self.type("fw-core-version", "V1105")
        self.type("fw-version", "x")
        self.el("fw-btn").click()
        self.refused("脚本版本：如 1.0.2")
        self.type("fw-version", "2.0.1")
        self.type("fw-lua-project", "")
        self.el("fw-btn").click()
        self.refused("PROJECT（main.lua；默认为项目名称）：必填")   # the project's name cannot be the devices' PROJECT
        self.type("fw-lua-project", "demo")
        self.el("fw-btn").click()
        self.refused("不符合")
        self.assertEqual(self.el("fw-progress").get_attribute("value"), "0")
        self.assertFalse(self.el("fw-progress").is_displayed())
        self.assertEqual(self.rows("fw-table"), [])
        # the form filled from what the files say: the core image's name, the scripts' main.lua
        for field in ("fw-core-version", "fw-bsp", "fw-version", "fw-lua-project"):
            self.type(field, "")
        self.el("fw-core").clear()
        self.el("fw-core").send_keys(core1)
        self.el("fw-script").clear()
        self.el("fw-script").send_keys(s1)
        fields = lambda d: [self.el(f).get_attribute("value") for f in ("fw-core-version", "fw-bsp", "fw-version", "fw-lua-project")]
        self.wait.until(lambda d: fields(d) == ["V1103", "EC618", "1.0.1", "demo"])
        self.assertEqual(self.el("fw-name").text, "demo_LuatOS-SoC_EC618")

        # two releases: what the device runs (V1103, 1.0.1: the files just read) and its upgrade (V1104, 1.0.2)
        self.el("fw-btn").click()
        self.until_rows("fw-table", 1)
        self.release(core2, s2, "V1104", "1.0.2", 2)
        text = self.el("fw-table").text
        self.assertIn("V1104", text)
        self.assertEqual(Select(self.el("project-select")).first_selected_option.text, PROJECT_NAME)
        self.assertIn(str(len(new)), text)
        self.check_console("04-firmware")

        self.mark("releases")
        # the upgrade configuration: newest release, three IMEIs pasted, one removed, from one version
        self.go("config")
        self.wait.until(lambda d: len(Select(self.el("cfg-target")).options) == 2)
        self.assertIn("V1104 1.0.2", Select(self.el("cfg-target")).first_selected_option.text)
        self.el("cfg-all").click()
        self.type("cfg-imei-input", "\n".join(IMEIS[:3]))
        self.el("cfg-imei-add").click()
        items = d.find_elements(By.CSS_SELECTOR, "#cfg-imei-list li")
        self.assertEqual(len(items), 3)
        items[2].find_element(By.TAG_NAME, "button").click()
        self.assertEqual(len(d.find_elements(By.CSS_SELECTOR, "#cfg-imei-list li")), 2)
        self.el("cfg-any").click()
        self.type("cfg-from", "1103.1.1")
        self.el("cfg-btn").click()
        self.wait.until(EC.text_to_be_present_in_element((By.ID, "cfg-table"), IMEIS[1]))
        self.assertNotIn(IMEIS[2], self.el("cfg-table").text)
        self.check_console("05-config")

        # regression: project B (no configuration) gets an empty form, not the first project's IMEIs
        self.pick("B", "config")
        self.assertEqual(self.rows("cfg-table"), [])
        self.assertTrue(self.el("cfg-all").is_selected())
        self.assertTrue(self.el("cfg-any").is_selected())
        self.assertEqual(d.find_elements(By.CSS_SELECTOR, "#cfg-imei-list li"), [])
        self.assertEqual(self.el("cfg-from").get_attribute("value"), "")
        # B's two configurations: b1 for one IMEI, b2 for all; then b2 chosen and edited, b1 untouched
        Select(self.el("cfg-target")).select_by_visible_text("b1_LuatOS-SoC_EC618 V1103 1.0.0")
        self.el("cfg-all").click()
        self.type("cfg-imei-input", IMEIS[2])
        self.el("cfg-imei-add").click()
        self.el("cfg-btn").click()
        self.until_rows("cfg-table", 1)
        self.el("cfg-new").click()
        self.assertTrue(self.el("cfg-all").is_selected())
        Select(self.el("cfg-target")).select_by_visible_text("b2_LuatOS-SoC_EC618 V1103 1.0.0")
        self.el("cfg-btn").click()
        self.until_rows("cfg-table", 2)
        self.row_of("cfg-table", "b2_").find_element(By.TAG_NAME, "button").click()
        self.assertTrue(self.el("cfg-all").is_selected())
        self.assertIn("b2_", Select(self.el("cfg-target")).first_selected_option.text)
        self.el("cfg-enabled").click()
        self.el("cfg-btn").click()
        self.wait.until(lambda d: "否" in self.row_of("cfg-table", "b2_").text)
        b1 = self.row_of("cfg-table", "b1_").text
        self.assertIn(IMEIS[2], b1)
        self.assertIn("是", b1)
        self.row_of("cfg-table", "b1_").find_element(By.TAG_NAME, "button").click()
        self.assertEqual([e.text.split()[0] for e in d.find_elements(By.CSS_SELECTOR, "#cfg-imei-list li")], [IMEIS[2]])
        # and back on the first project: its own configuration again
        self.pick(PROJECT_NAME, "config")
        self.assertEqual(len(d.find_elements(By.CSS_SELECTOR, "#cfg-imei-list li")), 2)
        self.assertEqual(self.el("cfg-from").get_attribute("value"), "1103.1.1")

        self.mark("configs")
        # a release a configuration targets cannot be deleted: the reason, in Chinese
        self.go("firmware")
        self.row_of("fw-table", "1.0.2").find_element(By.TAG_NAME, "button").click()
        self.accept()
        self.refused("仍在使用")
        self.assertEqual(len(self.rows("fw-table")), 2)

        # a staged rollout of that configuration, in one wave of 100 %: started, paused, resumed
        self.go("rollouts")
        self.wait.until(EC.text_to_be_present_in_element((By.ID, "rl-state"), "未分批"))
        self.type("rl-waves", "100")
        self.el("rl-start").click()
        self.wait.until(EC.text_to_be_present_in_element((By.ID, "rl-state"), "进行中"))
        self.assertEqual(len(self.until_rows("rl-table", 1)), 1)
        self.el("rl-pause").click()
        self.wait.until(EC.text_to_be_present_in_element((By.ID, "rl-state"), "已暂停"))
        self.assertIn("手动暂停", self.el("rl-state").text)   # the server's reason, in Chinese
        self.el("rl-resume").click()
        self.wait.until(EC.text_to_be_present_in_element((By.ID, "rl-state"), "进行中"))
        self.shot("05b-rollout")

        self.mark("rollout")
        # a simulated module (bin/luatos-sim) running the release-1 scripts on core V1103 asks the
        # server as it would ask the IoT platform: 43 while the delta is built, the package, a reboot
        # into V1104 / 1.0.2, then 27
        dev = os.path.join(self.tmp, "device")
        os.makedirs(os.path.join(dev, "fota"))
        with open(os.path.join(self.keys, "pub.pem"), "rb") as f:
            self.file("device/fota/trusted.pem", f.read())
        env = sim_env(self.s.base + "/api/site/firmware_upgrade")
        p = subprocess.run([os.path.join(ROOT, "bin", "luatos-sim"), os.path.dirname(s1), "--device", dev,
                            "--max-boots", "3", "--imei", IMEIS[0], "--core", "V1103", "--bsp", "EC618"],
                           cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=180)
        out = p.stdout.decode(errors="replace")
        with open(os.path.join(OUT, "device.log"), "w") as f:
            f.write(out)
        self.assertIn("to script 1.0.2 core V1104 - confirmed", out)
        self.assertIn("already latest (27)", out)
        # a device off the list: nothing for it
        self.assertIn(b'"code":27', self.s.device(key, "demo_LuatOS-SoC_EC618", "1103.1.1", IMEIS[2])[1])
        time.sleep(0.3)

        self.mark("device")
        # the devices: one added by hand, banned and unbanned; one click from a device to its log
        self.go("devices")
        self.type("dev-add-imei", IMEIS[3])
        self.el("dev-add-btn").click()
        self.wait.until(EC.text_to_be_present_in_element((By.ID, "dev-table"), IMEIS[3]))
        self.wait.until(EC.text_to_be_present_in_element((By.ID, "dev-table"), "1104.1.2"))
        self.row_of("dev-table", IMEIS[3]).find_element(By.CLASS_NAME, "dev-ban").click()
        self.wait.until(lambda d: self.row_of("dev-table", IMEIS[3]).find_elements(By.CLASS_NAME, "dev-unban"))
        self.check_console("06-devices")
        self.row_of("dev-table", IMEIS[3]).find_element(By.CLASS_NAME, "dev-unban").click()
        self.wait.until(lambda d: self.row_of("dev-table", IMEIS[3]).find_elements(By.CLASS_NAME, "dev-ban"))
        self.row_of("dev-table", IMEIS[0]).find_element(By.CLASS_NAME, "dev-log").click()
        self.ready("log")
        rows = self.until_rows("log-table", 3)
        codes = [r.find_elements(By.TAG_NAME, "td")[1].text for r in rows]
        self.assertEqual(codes[0], "27")   # newest first
        self.assertIn("0", codes)
        self.assertIn("43", codes)
        self.assertIn("已是最新版本", rows[0].text)
        self.check_console("07-log")
        # regression: an IMEI the server does not know leaves no rows of the device before
        self.type("log-imei", luhn_imei("35000000000009"))
        self.el("log-btn").click()
        self.refused("没有设备")
        self.assertEqual(self.rows("log-table"), [])

        # the rollout counted the module: sent the package, then upgraded (it came back on 1.0.2)
        self.go("rollouts")
        self.wait.until(lambda d: [c.text for c in d.find_elements(By.CSS_SELECTOR, "#rl-table tbody td")][3:6]
                        == ["1", "1", "0"])
        self.shot("06b-rollout-done")

        self.mark("devices")
        # the delta tool; its delta saved as a vendor package of the project
        self.go("delta")
        self.el("delta-old").send_keys(core1)
        self.el("delta-new").send_keys(core2)
        self.el("delta-btn").click()
        self.visible("delta-result")
        href = self.el("delta-download").get_attribute("href")
        self.check_console("08-delta")
        cookie = "; ".join("%s=%s" % (c["name"], c["value"]) for c in d.get_cookies())
        c = http.client.HTTPConnection("127.0.0.1", self.s.port, timeout=30)
        c.request("GET", href[len(self.s.base):], headers={"Cookie": cookie})
        r = c.getresponse()
        delta = r.read()
        self.assertEqual(r.status, 200)
        patched = os.path.join(self.tmp, "patched.bin")
        subprocess.run([FOTAPACK, "patch", core1, self.file("core.lfdl", delta), patched], check=True,
                       stdout=subprocess.DEVNULL)
        with open(patched, "rb") as f:
            self.assertEqual(f.read(), new)
        # saved as an AT delta package of the project: the form filled from the two images' names
        self.assertEqual([self.el(i).get_attribute("value") for i in ("ds-from", "ds-core", "ds-bsp")],
                         ["V1103", "V1104", "EC618"])
        self.el("ds-btn").click()
        self.wait.until(EC.text_to_be_present_in_element((By.ID, "msg"), "已保存：Air780E_AT_EC618 V1104"))

        self.mark("delta")
        # vendor packages on a 390 px wide phone: a Luatools-named file fills the form from its name
        d.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                          {"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": True})
        self.go("packages")
        name = "demo_1105.1.2_LuatOS-SoC_EC618.bin"
        data = os.urandom(5000)
        self.el("pkg-file").send_keys(self.file(name, data))
        self.wait.until(lambda d: self.el("pkg-firmware").get_attribute("value") == "demo_LuatOS-SoC_EC618")
        self.assertEqual(self.el("pkg-to").get_attribute("value"), "1105.1.2")
        self.assertEqual(self.el("pkg-from").get_attribute("value"), "")   # Luatools' names say no base
        self.assertIn("已根据文件名填写", self.el("pkg-hint").text)
        # corrected wrongly: refused with the server's reason, the progress bar back to 0
        self.type("pkg-from", "V1105")
        self.el("pkg-btn").click()
        self.refused("V1105 就是目标版本自己的底层")
        self.assertFalse(self.el("pkg-progress").is_displayed())
        self.assertEqual(self.el("pkg-progress").get_attribute("value"), "0")
        self.type("pkg-from", "V1103,V1104")
        self.el("pkg-btn").click()
        row = self.wait.until(lambda d: next((r for r in self.rows("pkg-table") if name in r.text), None))
        for part in (name, "demo_LuatOS-SoC_EC618", "V1105 1.0.2", "V1103, V1104", "5000"):
            self.assertIn(part, row.text)
        self.assertEqual(self.el("pkg-progress").get_attribute("value"), "0")
        # nothing wider than the phone's screen (the table's rows are cards)
        self.assertLessEqual(d.execute_script("return document.documentElement.scrollWidth"), 390)
        self.shot("08b-packages-phone")
        n = len(self.rows("pkg-table"))
        row.find_element(By.TAG_NAME, "button").click()
        self.accept()
        self.wait.until(EC.text_to_be_present_in_element((By.ID, "msg"), "已删除"))   # said once drawn again
        self.assertEqual(len(self.rows("pkg-table")), n - 1)
        d.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})

        self.mark("packages")
        # projects: a name that is markup is shown as its text, never parsed
        self.go("projects")
        markup = '<img src=x onerror="document.title=1">'
        self.type("proj-name", markup)
        self.el("proj-btn").click()
        rows = self.until_rows("proj-table", 3)
        self.assertEqual(sorted(r.find_elements(By.TAG_NAME, "td")[0].text for r in rows), sorted([markup, PROJECT_NAME, "B"]))
        self.assertEqual(d.find_elements(By.CSS_SELECTOR, "#proj-table img, #project-select img"), [])
        self.assertNotEqual(d.title, "1")
        # renamed, then deleted (it holds nothing)
        acts = lambda name: self.row_of("proj-table", name).find_elements(By.CSS_SELECTOR, "td:last-child button")
        acts(markup)[0].click()
        f = self.d.find_element(By.CSS_SELECTOR, "#proj-table form.inline input")
        f.clear()
        f.send_keys("empty one\n")
        self.wait.until(EC.text_to_be_present_in_element((By.ID, "proj-table"), "empty one"))
        acts("empty one")[2].click()
        self.accept()
        self.wait.until(lambda d: len(self.rows("proj-table")) == 2)
        # one with releases is refused, with what it holds
        acts(PROJECT_NAME)[2].click()
        self.accept()
        self.refused("仍在使用")
        # a new ProductKey after the warning: the old one stops working
        acts("B")[1].click()
        self.wait.until(EC.alert_is_present())
        self.assertIn("旧的立即失效", d.switch_to.alert.text)
        d.switch_to.alert.accept()
        self.wait.until(lambda d: "ProjectBKey" not in self.row_of("proj-table", "B").text)
        self.assertIn(b'"code":25', self.s.device("ProjectBKey", "b1_LuatOS-SoC_EC618", "1103.1.0", IMEIS[2])[1])

        self.mark("projects")
        # the admin's users: one added (its initial password shown once), reset, disabled
        self.go("account")
        self.assertTrue(self.el("users").is_displayed())
        self.type("user-name", "helper01")
        self.el("user-btn").click()
        self.wait.until(EC.text_to_be_present_in_element((By.ID, "user-table"), "helper01"))
        self.assertIn("helper01 的密码", self.el("msg").text)
        self.row_of("user-table", "helper01").find_element(By.CLASS_NAME, "user-reset").click()
        self.wait.until(EC.text_to_be_present_in_element((By.ID, "msg"), "helper01 的密码"))
        self.row_of("user-table", "helper01").find_element(By.CLASS_NAME, "user-disable").click()
        self.wait.until(lambda d: "已停用" in self.row_of("user-table", "helper01").text)
        # everyone's own password
        self.type("mypw-old", "browser-pass-1")
        self.type("mypw-new", "browser-pass-2")
        self.type("mypw-new2", "browser-pass-2")
        self.el("mypw-btn").click()
        self.wait.until(EC.text_to_be_present_in_element((By.ID, "msg"), "已保存"))
        self.check_console("09-account")
        self.check_console("flows")
        self.mark("users")

        self.walk()
        self.mark("walk")
        with open(os.path.join(OUT, "seconds"), "w") as f:
            f.write("\n".join(self.marks) + "\n")

        # log out: the login page again
        self.el("logout").click()
        self.visible("page-login")
        self.check_console("10-logged-out")
        self.assertEqual(self.errors, [])


if __name__ == "__main__":
    unittest.main(verbosity=2)
