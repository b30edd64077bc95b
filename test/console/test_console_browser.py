"""The console in a real browser: headless Chromium (Debian chromium +
chromium-driver, driven by python3-selenium) logs in, replaces the initial
password, creates a project named as the platform names them (Air7XXE标准模块: UTF-8,
shown and sent back intact) whose releases carry the devices' PROJECT "demo", uploads two releases, sets the IMEI list; a
device then upgrades over the IoT-platform API and the log page shows its
requests; the delta page makes a delta that fotapack patch applies; on a
390 px wide phone, a Luatools-named vendor package fills its form, is
refused once, added, listed and deleted.
Screenshots of every page go to $CONSOLE_OUT; no page may log a console error."""
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
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from consolelib import BUILD, FOTAPACK, INITIAL, Server, luhn_imei, run  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
OUT = os.path.abspath(os.environ.get("CONSOLE_OUT", "console-browser"))
USER = "13800000000"
PROJECT_NAME = "Air7XXE标准模块"
IMEIS = [luhn_imei("86000000000001"), luhn_imei("86000000000002"), luhn_imei("86000000000003")]


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
        self.wait = WebDriverWait(self.d, 60)
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
        self.d.execute_script("location.hash = arguments[0]", page)
        self.visible("page-" + page)

    def release(self, core, script, core_ver, version, n):
        self.go("firmware")
        Select(self.el("fw-kind")).select_by_value("luatos")
        self.type("fw-bsp", "EC618")
        self.type("fw-core-version", core_ver)
        self.type("fw-version", version)
        self.type("fw-lua-project", "demo")
        self.el("fw-core").send_keys(core)
        self.el("fw-script").send_keys(script)
        self.assertEqual(self.el("fw-name").text, "demo_LuatOS-SoC_EC618")
        self.el("fw-btn").click()
        self.wait.until(lambda d: len(self.rows("fw-table")) >= n or "bad" in self.el("msg").get_attribute("class"))
        self.assertEqual(len(self.rows("fw-table")), n, self.el("msg").text)

    def test_console(self):
        d = self.d
        old, new = self.core_image("V1103"), self.core_image("V1104")
        core1, core2 = self.file("core-V1103.bin", old), self.file("core-V1104.bin", new)

        # login (Chinese labels: the browser's language), then the forced password change
        d.get(self.s.base + "/console/")
        self.visible("page-login")
        self.assertEqual(self.el("login-btn").text, "登录")
        self.shot("01-login")
        self.type("login-user", USER)
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
        Select(self.el("lang")).select_by_value("en")
        self.assertEqual(self.d.find_element(By.CSS_SELECTOR, "#nav a[href='#log']").text, "Upgrade log")
        Select(self.el("lang")).select_by_value("zh")
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
        self.shot("03-projects")

        # two releases: what the device runs (V1103, 1.0.1) and its upgrade (V1104, 1.0.2)
        s1, s2 = self.scripts("v1", key, "1.0.1"), self.scripts("v2", key, "1.0.2")
        self.release(core1, s1, "V1103", "1.0.1", 1)
        self.release(core2, s2, "V1104", "1.0.2", 2)
        text = self.el("fw-table").text
        self.assertIn("V1104", text)
        self.assertEqual(Select(self.el("project-select")).first_selected_option.text, PROJECT_NAME)
        self.assertIn(str(len(new)), text)
        self.shot("04-firmware")

        # the upgrade configuration: newest release, three IMEIs pasted, one removed
        self.go("config")
        self.wait.until(lambda d: len(Select(self.el("cfg-target")).options) == 2)
        self.assertIn("V1104 1.0.2", Select(self.el("cfg-target")).first_selected_option.text)
        self.el("cfg-all").click()
        self.type("cfg-imei-input", "\n".join(IMEIS))
        self.el("cfg-imei-add").click()
        items = d.find_elements(By.CSS_SELECTOR, "#cfg-imei-list li")
        self.assertEqual(len(items), 3)
        items[2].find_element(By.TAG_NAME, "button").click()
        self.assertEqual(len(d.find_elements(By.CSS_SELECTOR, "#cfg-imei-list li")), 2)
        self.el("cfg-btn").click()
        self.wait.until(EC.text_to_be_present_in_element((By.ID, "cfg-table"), IMEIS[1]))
        self.assertNotIn(IMEIS[2], self.el("cfg-table").text)
        self.shot("05-config")

        # a staged rollout of that configuration, in one wave of 100 %: started, paused, resumed
        self.wait.until(EC.text_to_be_present_in_element((By.ID, "rl-state"), "未分批"))
        self.type("rl-waves", "100")
        self.el("rl-start").click()
        self.wait.until(EC.text_to_be_present_in_element((By.ID, "rl-state"), "进行中"))
        self.assertEqual(len(self.until_rows("rl-table", 1)), 1)
        self.el("rl-pause").click()
        self.wait.until(EC.text_to_be_present_in_element((By.ID, "rl-state"), "已暂停"))
        self.el("rl-resume").click()
        self.wait.until(EC.text_to_be_present_in_element((By.ID, "rl-state"), "进行中"))
        self.shot("05b-rollout")

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

        self.go("devices")
        self.el("dev-btn").click()
        self.wait.until(EC.text_to_be_present_in_element((By.ID, "dev-table"), IMEIS[0]))
        self.wait.until(EC.text_to_be_present_in_element((By.ID, "dev-table"), "1104.1.2"))
        self.shot("06-devices")

        # the rollout counted the module: sent the package, then upgraded (it came back on 1.0.2)
        self.go("config")
        self.wait.until(lambda d: [c.text for c in d.find_elements(By.CSS_SELECTOR, "#rl-table tbody td")][3:6]
                        == ["1", "1", "0"])
        self.shot("06b-rollout-done")

        self.go("log")
        self.type("log-imei", IMEIS[0])
        self.el("log-btn").click()
        rows = self.until_rows("log-table", 3)
        codes = [r.find_elements(By.TAG_NAME, "td")[1].text for r in rows]
        self.assertEqual(codes[0], "27")   # newest first
        self.assertIn("0", codes)
        self.assertIn("43", codes)
        self.assertIn("已是最新版本", rows[0].text)
        self.shot("07-log")

        # the delta tool
        self.go("delta")
        self.el("delta-old").send_keys(core1)
        self.el("delta-new").send_keys(core2)
        self.el("delta-btn").click()
        self.visible("delta-result")
        href = self.el("delta-download").get_attribute("href")
        self.shot("08-delta")
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
        self.wait.until(lambda d: "bad" in self.el("msg").get_attribute("class"))
        self.assertIn("target's own core", self.el("msg").text)
        self.assertFalse(self.el("pkg-progress").is_displayed())
        self.assertEqual(self.el("pkg-progress").get_attribute("value"), "0")
        refused = [e["message"] for e in d.get_log("browser") if e["level"] == "SEVERE"]
        self.assertTrue(all("/console/api/packages" in m and "400" in m for m in refused), refused)
        self.type("pkg-from", "V1103,V1104")
        self.el("pkg-btn").click()
        row = self.until_rows("pkg-table", 1)[0]
        for part in (name, "demo_LuatOS-SoC_EC618", "V1105 1.0.2", "V1103, V1104", "5000"):
            self.assertIn(part, row.text)
        self.assertEqual(self.el("pkg-progress").get_attribute("value"), "0")
        # nothing wider than the phone's screen (the table scrolls inside its box)
        self.assertLessEqual(d.execute_script("return document.documentElement.scrollWidth"), 390)
        self.shot("08b-packages-phone")
        row.find_element(By.TAG_NAME, "button").click()
        self.wait.until(EC.alert_is_present())
        d.switch_to.alert.accept()
        self.wait.until(lambda d: len(self.rows("pkg-table")) == 0)
        self.assertIn("已删除", self.el("msg").text)
        d.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})

        # a name that is markup is shown as its text, never parsed
        self.go("projects")
        markup = '<img src=x onerror="document.title=1">'
        self.type("proj-name", markup)
        self.el("proj-btn").click()
        rows = self.until_rows("proj-table", 2)
        self.assertEqual(sorted(r.find_elements(By.TAG_NAME, "td")[0].text for r in rows), [markup, PROJECT_NAME])
        self.assertEqual(d.find_elements(By.CSS_SELECTOR, "#proj-table img, #project-select img"), [])
        self.assertNotEqual(d.title, "1")

        # log out: the login page again
        self.el("logout").click()
        self.visible("page-login")
        self.shot("09-logged-out")
        self.assertEqual(self.errors, [])


if __name__ == "__main__":
    unittest.main(verbosity=2)
