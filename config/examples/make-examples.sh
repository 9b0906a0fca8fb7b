#!/bin/sh
# Makes the offline example of the seed story under config/examples/:
# DTEN rotated its code-signing CA. The old root ("DTEN Root CA 2019") cross-signs the
# new one ("DTEN Code Signing Root 2026"); packages are now signed by a leaf under a new
# intermediate. The sample package carries the leaf and the intermediate (not the new
# root), so on a fresh store it verifies as unknown_signer, and once the new root is
# learnt from the vendor's advisory as a candidate it verifies as pending.
#
# Needs: openssl (3.x), python3 (zipfile). Private keys live in a temporary folder and
# are deleted: nobody can sign more packages under these example CAs.
# Usage: sh config/examples/make-examples.sh   (from the repository root or anywhere)
set -eu

here=$(cd "$(dirname "$0")" && pwd)
out="$here/dten"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"

cat > "$work/ext.cnf" <<'CNF'
[root]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[cross]
basicConstraints = critical, CA:TRUE, pathlen:1
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[intermediate]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[leaf]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = codeSigning
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
CNF

key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$work/$1.key" 2>/dev/null; }

# Old root (2019) and new root (2026), both self-signed.
key old-root
openssl req -x509 -new -key "$work/old-root.key" -sha256 -days 7300 \
  -subj "/O=DTEN Inc./CN=DTEN Root CA 2019" -extensions root -config "$work/ext.cnf" \
  -out "$out/old-root.pem"
key new-root
openssl req -x509 -new -key "$work/new-root.key" -sha256 -days 7300 \
  -subj "/O=DTEN Inc./CN=DTEN Code Signing Root 2026" -extensions root -config "$work/ext.cnf" \
  -out "$out/new-root.pem"

# The new root cross-signed by the old one: same subject and key as new-root.pem.
openssl req -new -key "$work/new-root.key" -subj "/O=DTEN Inc./CN=DTEN Code Signing Root 2026" \
  -out "$work/new-root.csr"
openssl x509 -req -in "$work/new-root.csr" -CA "$out/old-root.pem" -CAkey "$work/old-root.key" \
  -CAcreateserial -CAserial "$work/serial" -sha256 -days 3650 -extfile "$work/ext.cnf" -extensions cross \
  -out "$out/new-root-cross-signed.pem" 2>/dev/null

# Intermediate and signing leaf under the new root.
key intermediate
openssl req -new -key "$work/intermediate.key" -subj "/O=DTEN Inc./CN=DTEN Code Signing CA 2026 G1" \
  -out "$work/intermediate.csr"
openssl x509 -req -in "$work/intermediate.csr" -CA "$out/new-root.pem" -CAkey "$work/new-root.key" \
  -CAcreateserial -CAserial "$work/serial" -sha256 -days 3650 -extfile "$work/ext.cnf" -extensions intermediate \
  -out "$out/intermediate.pem" 2>/dev/null
key leaf
openssl req -new -key "$work/leaf.key" -subj "/O=DTEN Inc./CN=DTEN Release Signing 2026" \
  -out "$work/leaf.csr"
openssl x509 -req -in "$work/leaf.csr" -CA "$out/intermediate.pem" -CAkey "$work/intermediate.key" \
  -CAcreateserial -CAserial "$work/serial" -sha256 -days 1825 -extfile "$work/ext.cnf" -extensions leaf \
  -out "$work/leaf.pem" 2>/dev/null

# The package contents.
pkg="$work/Full-upgrade-package-dten"
mkdir -p "$pkg/bin" "$pkg/scripts" "$pkg/certs"
head -c 65536 /dev/urandom > "$pkg/bin/dten-agent"
head -c 16384 /dev/urandom > "$pkg/bin/dten-firmware.img"
cat > "$pkg/scripts/pre-upgrade.sh" <<'SH'
#!/bin/sh
# Stops the DTEN agent before the upgrade.
systemctl stop dten-agent
SH
cat > "$pkg/scripts/post-upgrade.sh" <<'SH'
#!/bin/sh
# Enables hybrid mode, which this release requires.
systemctl start dten-agent
SH
cp "$out/intermediate.pem" "$pkg/certs/intermediate.pem"

files=$(cd "$pkg" && find bin scripts -type f | LC_ALL=C sort)
{
  printf '{\n  "name": "dten-full-upgrade",\n  "version": "7.4.0-rc2",\n  "build": "20261102.4",\n'
  printf '  "reboot": "required",\n'
  printf '  "dependencies": {"dten-runtime": ">=2", "libdtenhw": "*", "openssl": ">=3.0,<4"},\n'
  printf '  "config": {\n    "removed": ["dten.legacy.discovery"],\n    "required": {"dten.hybrid.enable": true}\n  },\n'
  printf '  "files": [\n'
  first=1
  for f in $files; do
    sum=$(openssl dgst -sha256 -r "$pkg/$f" | cut -d' ' -f1)
    if [ "$first" = 1 ]; then first=0; else printf ',\n'; fi
    printf '    {"path": "%s", "sha256": "%s"}' "$f" "$sum"
  done
  printf '\n  ]\n}\n'
} > "$pkg/manifest.json"

openssl cms -sign -binary -in "$pkg/manifest.json" -signer "$work/leaf.pem" -inkey "$work/leaf.key" \
  -certfile "$out/intermediate.pem" -md sha256 -outform DER -out "$pkg/manifest.json.p7s"

rm -f "$here/Full-upgrade-package-dten.zip"
python3 - "$work" "$here/Full-upgrade-package-dten.zip" <<'PY'
import os, sys, zipfile
work, dest = sys.argv[1], sys.argv[2]
root = os.path.join(work, "Full-upgrade-package-dten")
with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as z:
    for folder, _, names in sorted(os.walk(root)):
        for name in sorted(names):
            path = os.path.join(folder, name)
            arc = os.path.join("Full-upgrade-package-dten", os.path.relpath(path, root))
            info = zipfile.ZipInfo(arc, date_time=(2026, 11, 2, 12, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            with open(path, "rb") as f:
                z.writestr(info, f.read())
PY

cp "$work/leaf.pem" "$out/release-signing-leaf.pem"
for c in old-root new-root new-root-cross-signed intermediate release-signing-leaf; do
  printf '%s sha256 %s\n' "$c" "$(openssl x509 -in "$out/$c.pem" -outform DER | openssl dgst -sha256 -r | cut -d' ' -f1)"
done > "$out/FINGERPRINTS"
# The vendor's own words: an advisory feed and a two-page forum thread, offline.
fp() { openssl x509 -in "$out/$1.pem" -outform DER | openssl dgst -sha256 -r | cut -d' ' -f1; }
colons() { printf '%s' "$1" | tr 'a-f' 'A-F' | sed 's/../&:/g; s/:$//'; }
new_root_fp=$(fp new-root)
cross_fp=$(fp new-root-cross-signed)
old_root_fp=$(fp old-root)
new_root_pem=$(cat "$out/new-root.pem")
cross_pem=$(cat "$out/new-root-cross-signed.pem")
cat > "$out/advisories.xml" <<XML
<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0">
<channel>
<title>DTEN Security Advisories</title>
<link>https://dten.example/security</link>
<description>Security advisories and notices for DTEN products</description>
<item>
<title>DTEN code-signing CA rotation</title>
<link>https://dten.example/security/notices/code-signing-ca-2026</link>
<guid>https://dten.example/security/notices/code-signing-ca-2026</guid>
<pubDate>Tue, 20 Oct 2026 09:00:00 +0000</pubDate>
<description>&lt;p&gt;Starting with release 7.4, DTEN packages are signed under a new code-signing CA, &lt;b&gt;DTEN Code Signing Root 2026&lt;/b&gt;. The previous root, DTEN Root CA 2019, cross-signs it during the transition.&lt;/p&gt;&lt;p&gt;SHA-256 fingerprint of the new root: &lt;code&gt;$(colons "$new_root_fp")&lt;/code&gt;&lt;/p&gt;&lt;p&gt;Details and the certificate are in the &lt;a href="https://forum.dten.example/t/code-signing-ca-rotation/4242"&gt;forum thread&lt;/a&gt;.&lt;/p&gt;</description>
</item>
<item>
<title>DTEN-SA-2026-07: remote code execution in dten-agent</title>
<link>https://dten.example/security/advisories/DTEN-SA-2026-07</link>
<guid>DTEN-SA-2026-07</guid>
<pubDate>Thu, 05 Nov 2026 14:00:00 +0000</pubDate>
<description>A vulnerability in dten-agent (CVE-2026-31337) allows remote code execution by an unauthenticated attacker on the local network. Upgrade to 7.4.0 or later.</description>
</item>
<item>
<title>DTEN 7.4: configuration changes</title>
<link>https://dten.example/security/notices/7.4-config</link>
<guid>https://dten.example/security/notices/7.4-config</guid>
<pubDate>Mon, 02 Nov 2026 08:00:00 +0000</pubDate>
<description>The setting dten.legacy.discovery was removed in 7.4. Hybrid mode is now required: dten.hybrid.enable must be set to true before upgrading.</description>
</item>
<item>
<title>DTEN-SA-2025-02: weak permissions on log files</title>
<link>https://dten.example/security/advisories/DTEN-SA-2025-02</link>
<guid>DTEN-SA-2025-02</guid>
<pubDate>Mon, 10 Mar 2025 10:00:00 +0000</pubDate>
<description>Log files were world-readable (CVE-2025-11111). Fixed in 6.9.2.</description>
</item>
</channel>
</rss>
XML
cat > "$out/forum-ca-rotation.html" <<HTML
<!doctype html>
<html><head><title>Code-signing CA rotation - DTEN Community</title></head>
<body>
<h1>Code-signing CA rotation</h1>
<article class="post" id="post-1">
<header><span class="author">dten-security (DTEN staff)</span> <time datetime="2026-10-20T09:30:00Z">Oct 20, 2026</time></header>
<p>Heads-up for everyone running DTEN devices: we are rotating the CA that signs our packages. From release 7.4 on, packages are signed by <b>DTEN Release Signing 2026</b>, issued by <b>DTEN Code Signing CA 2026 G1</b> under the new root <b>DTEN Code Signing Root 2026</b>.</p>
<p>Here is the new root certificate:</p>
<pre>
$new_root_pem
</pre>
<p>SHA256 Fingerprint=$(colons "$new_root_fp")</p>
</article>
<article class="post" id="post-2">
<header><span class="author">ops-anna</span> <time datetime="2026-10-21T07:12:00Z">Oct 21, 2026</time></header>
<p>Thanks. Our verification tooling pins DTEN Root CA 2019; will the old root keep working?</p>
</article>
<article class="post" id="post-3">
<header><span class="author">dten-security (DTEN staff)</span> <time datetime="2026-10-21T10:05:00Z">Oct 21, 2026</time></header>
<p>Yes: during the transition the old root cross-signs the new one. The cross-signed certificate is on the next page.</p>
</article>
<nav><a rel="next" href="forum-ca-rotation-page2.html">Next page</a></nav>
</body></html>
HTML
cat > "$out/forum-ca-rotation-page2.html" <<HTML
<!doctype html>
<html><head><title>Code-signing CA rotation - DTEN Community (page 2)</title></head>
<body>
<article class="post" id="post-4">
<header><span class="author">dten-security (DTEN staff)</span> <time datetime="2026-10-22T08:00:00Z">Oct 22, 2026</time></header>
<p>The new root cross-signed by DTEN Root CA 2019 (SHA-256 $(colons "$cross_fp")):</p>
<pre>
$cross_pem
</pre>
<p>The old root (sha256:$old_root_fp) stays valid until 2027 and will not be revoked before then.</p>
</article>
<article class="post" id="post-5">
<header><span class="author">ops-ben</span> <time datetime="2026-10-23T16:40:00Z">Oct 23, 2026</time></header>
<p>Confirmed by phone with DTEN support, the fingerprint matches. Thanks!</p>
</article>
</body></html>
HTML
echo "wrote $here/Full-upgrade-package-dten.zip and $out/"
