#!/usr/bin/env bats
# Packaging: the Debian package built from contrib/debian (once per run, in
# setup_file: a full build), its contents, its maintainer scripts, lintian;
# the systemd units checked by systemd-analyze; the RPM spec parsed and
# built by rpmbuild where Debian's rpm package is installed.
#
# The source tree for the package is made with "make distdir" in the build
# directory, so this works in the source tree and in a VPATH build (make
# distcheck's _build) alike; contrib/debian is then copied to ./debian, as
# contrib/debian/README.source describes.

load helpers

# The package version: the configure version, as in the Makefile.
pkg_version() {
	sed -n 's/^VERSION = //p' "$top_builddir/Makefile"
}

# Environment for a nested make or dpkg-buildpackage: not the jobserver of
# the make check that runs us.
clean_make_env() {
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u MAKEOVERRIDES "$@"
}

setup_file() {
	export PKG="$BATS_FILE_TMPDIR/pkg"
	export VERSION
	VERSION=$(pkg_version)
	export SRC="$PKG/ctftpd-$VERSION"
	export BUILD_STATUS="$PKG/build.status" BUILD_LOG="$PKG/build.log"
	export SKIP_REASON="$PKG/skip"
	mkdir -p "$PKG"
	local tool
	for tool in dpkg-buildpackage dpkg-checkbuilddeps dpkg-deb dh; do
		command -v "$tool" >/dev/null 2>&1 || {
			echo "$tool not found (apt-get install dpkg-dev debhelper fakeroot)" >"$SKIP_REASON"
			return 0
		}
	done
	[ -n "$VERSION" ] || { echo "no VERSION in $top_builddir/Makefile" >"$BUILD_LOG"; echo 1 >"$BUILD_STATUS"; return 0; }
	clean_make_env make -s -C "$top_builddir" distdir distdir="$SRC" \
		>"$BUILD_LOG" 2>&1 || { echo 1 >"$BUILD_STATUS"; return 0; }
	cp -R "$SRC/contrib/debian" "$SRC/debian"
	if ! (cd "$SRC" && dpkg-checkbuilddeps) >"$PKG/builddeps" 2>&1; then
		echo "build dependencies missing: $(cat "$PKG/builddeps")" >"$SKIP_REASON"
		return 0
	fi
	local rc=0
	# nocheck: the suite is not run inside the package build (debian/rules
	# skips it anyway; see contrib/debian/README.source).
	(cd "$SRC" && clean_make_env DEB_BUILD_OPTIONS="nocheck parallel=2" \
		dpkg-buildpackage -us -uc -b) >>"$BUILD_LOG" 2>&1 3>&- || rc=$?
	echo "$rc" >"$BUILD_STATUS"
	DEB=$(ls "$PKG"/ctftpd_"$VERSION"-*_*.deb 2>/dev/null | head -n 1)
	if [ -n "$DEB" ]; then
		dpkg-deb -x "$DEB" "$PKG/root"
		dpkg-deb -e "$DEB" "$PKG/control"
	fi
}

# built: skip when the tools are missing; fail when the build failed.
built() {
	[ ! -e "$SKIP_REASON" ] || skip "$(cat "$SKIP_REASON")"
	if [ "$(cat "$BUILD_STATUS" 2>/dev/null)" != 0 ]; then
		echo "the package build failed:" >&2
		tail -n 60 "$BUILD_LOG" >&2
		return 1
	fi
	DEB=$(ls "$PKG"/ctftpd_"$VERSION"-*_*.deb)
	CHANGES=$(ls "$PKG"/ctftpd_"$VERSION"-*_*.changes)
	[ -f "$DEB" ] && [ -f "$CHANGES" ]
}

@test "deb: dpkg-buildpackage -us -uc -b builds ctftpd_VERSION-*.deb" {
	built
	dpkg-deb -f "$DEB" Package Version Architecture
	[ "$(dpkg-deb -f "$DEB" Package)" = ctftpd ]
	[[ "$(dpkg-deb -f "$DEB" Version)" == "$VERSION"-* ]]
}

@test "deb: installs the daemon, man page, defaults, units, init script" {
	built
	local list path
	list=$(dpkg-deb -c "$DEB" | awk '{ print $6 }' | sed 's|^\./|/|')
	for path in /usr/sbin/ctftpd /usr/share/man/man8/ctftpd.8.gz \
		/usr/share/ctftpd/ctftpd.default /etc/init.d/ctftpd \
		/lib/systemd/system/ctftpd.service /lib/systemd/system/ctftpd.socket \
		/lib/systemd/system/ctftpd-standalone.service \
		/usr/share/doc/ctftpd/copyright /usr/share/doc/ctftpd/syslog.txt \
		/usr/share/doc/ctftpd/README.Debian \
		/usr/share/doc/ctftpd/examples/inetd.conf \
		/usr/share/doc/ctftpd/examples/xinetd.d/ctftpd; do
		# (units: /lib on bookworm, /usr/lib from debhelper 13.12 on)
		grep -qx -e "$path" -e "/usr$path" <<<"$list" ||
			{ echo "missing $path" >&2; return 1; }
	done
	# /srv/tftp is made by the postinst, not shipped (/srv is the admin's)
	! grep -q '^/srv' <<<"$list" || false
	[ -x "$PKG/root/etc/init.d/ctftpd" ]
	[ -x "$PKG/root/usr/sbin/ctftpd" ]
	# The installed files are the ones in contrib/.
	cmp "$PKG/root/usr/share/ctftpd/ctftpd.default" "$top_srcdir/contrib/default/ctftpd"
	# /etc/default/ctftpd is the postinst's to write, not shipped
	[ ! -e "$PKG/root/etc/default/ctftpd" ]
	cmp "$PKG/root/etc/init.d/ctftpd" "$top_srcdir/contrib/init.d/ctftpd"
	cmp "$(ls "$PKG"/root{,/usr}/lib/systemd/system/ctftpd.socket 2>/dev/null | head -n 1)" \
		"$top_srcdir/contrib/systemd/ctftpd.socket"
}

@test "deb: the packaged binary runs and prints the version" {
	built
	run "$PKG/root/usr/sbin/ctftpd" --version
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = "$("$CTFTPD" --version)" ]
	run "$PKG/root/usr/sbin/ctftpd" --help
	[ "$status" -eq 0 ]
	[[ "$output" == *"/srv/tftp"* ]]
}

@test "deb: conffiles, relations and maintainer scripts" {
	built
	! grep -qx /etc/default/ctftpd "$PKG/control/conffiles" || false
	grep -qx /etc/init.d/ctftpd "$PKG/control/conffiles"
	[ "$(dpkg-deb -f "$DEB" Provides)" = tftp-server ]
	[ "$(dpkg-deb -f "$DEB" Conflicts)" = tftp-server ]
	[[ "$(dpkg-deb -f "$DEB" Depends)" == *adduser* ]]
	local s
	for s in postinst postrm prerm; do
		[ -f "$PKG/control/$s" ] || continue
		sh -n "$PKG/control/$s"
	done
	# the tftp system user, the directory, the socket unit enabled
	grep -q 'adduser --system' "$PKG/control/postinst"
	grep -q 'mkdir -p "${DPKG_ROOT:-}/srv/tftp"' "$PKG/control/postinst"
	grep -q "update-rc.d ctftpd defaults" "$PKG/control/postinst"
	# a service that cannot start or stop goes to the scripts' handler,
	# not to "exit 1"
	grep -q "invoke-rc.d --skip-systemd-native ctftpd \$_dh_action || ctftpd_service_failed$" \
		"$PKG/control/postinst"
	grep -q "invoke-rc.d --skip-systemd-native ctftpd stop || ctftpd_service_failed$" \
		"$PKG/control/prerm"
	# the socket is enabled on installation; the service and the standalone
	# unit are enabled again only where the admin had enabled them
	grep -q "deb-systemd-helper enable 'ctftpd.socket'" "$PKG/control/postinst"
	# (was-enabled defaults to true: new installations enable the socket)
	grep -q "if deb-systemd-helper --quiet was-enabled 'ctftpd.socket'" "$PKG/control/postinst"
	grep -q "debian-installed 'ctftpd-standalone.service'" "$PKG/control/postinst"
	grep -q "debian-installed 'ctftpd.service'" "$PKG/control/postinst"
	# removal stops the socket (and with it the service)
	grep -q "deb-systemd-invoke stop 'ctftpd.socket'" "$PKG/control/prerm"
}

@test "deb: lintian reports no errors or warnings" {
	built
	command -v lintian >/dev/null 2>&1 || skip "lintian not found (apt-get install lintian)"
	lintian --show-overrides "$CHANGES" || true
	run lintian --fail-on error,warning "$CHANGES"
	echo "$output"
	[ "$status" -eq 0 ]
	! grep -E '^[EW]: ' <<<"$output" || false
}

# The maintainer scripts run as dpkg runs them when installing into another
# root (dpkg --root): DPKG_ROOT names the tree, and the scripts' own files
# are under it.  unpacked: the package's files in $ROOT, as dpkg unpacks
# them before "configure", and in $STUBS the commands the scripts run that
# act on the running system (adduser, update-rc.d, invoke-rc.d, systemd's
# helpers), each logging its arguments to $STUBS/log.
unpacked() {
	built
	ROOT="$BATS_TEST_TMPDIR/root" STUBS="$BATS_TEST_TMPDIR/stubs"
	cp -R "$PKG/root" "$ROOT"
	mkdir -p "$ROOT/etc/default" "$STUBS"
	local cmd
	for cmd in adduser update-rc.d invoke-rc.d deb-systemd-helper \
		deb-systemd-invoke systemctl; do
		printf '#!/bin/sh\necho "%s $*" >>"%s/log"\n' "$cmd" "$STUBS" >"$STUBS/$cmd"
		chmod +x "$STUBS/$cmd"
	done
}

# maintscript NAME ARG...: run the package's maintainer script NAME (postinst,
# postrm...) on $ROOT, with the stubs; sets status and output (bats run).
maintscript() {
	local name=$1
	shift
	run env PATH="$STUBS:$PATH" DPKG_ROOT="$ROOT" \
		DPKG_MAINTSCRIPT_NAME="$name" DPKG_MAINTSCRIPT_PACKAGE=ctftpd \
		sh -e "$PKG/control/$name" "$@"
	echo "$output"
}

# settings: CTFTPD_OPTIONS and CTFTPD_DIRECTORY from $ROOT's
# /etc/default/ctftpd, read as the init script reads it.
settings() {
	CTFTPD_OPTIONS= CTFTPD_DIRECTORY=
	# shellcheck source=/dev/null
	. "$ROOT/etc/default/ctftpd"
}

@test "deb: the first installation writes /etc/default/ctftpd (ctftpd's defaults) and /srv/tftp" {
	unpacked
	maintscript postinst configure ""
	[ "$status" -eq 0 ]
	cmp "$ROOT/etc/default/ctftpd" "$top_srcdir/contrib/default/ctftpd"
	[ -d "$ROOT/srv/tftp" ]
	grep -qx 'adduser --system --group --home /srv/tftp --no-create-home --quiet tftp' "$STUBS/log"
	[ ! -e "$ROOT/etc/systemd/system/ctftpd.socket.d" ]
	[ -z "$output" ]
}

@test "deb: the first installation imports /etc/default/tftpd-hpa and names what it leaves out" {
	unpacked
	# tftpd-hpa's file as an admin left it: its own directory and address,
	# options ctftpd takes as they are, one it translates, ones it cannot
	# honour under the init script, one that is no in.tftpd option.
	cat >"$ROOT/etc/default/tftpd-hpa" <<-'EOF'
		# /etc/default/tftpd-hpa

		TFTP_USERNAME="tftpd"
		TFTP_DIRECTORY="/var/lib/tftpboot"
		TFTP_ADDRESS="127.0.0.1:69"
		TFTP_OPTIONS="--secure -vv -B 1468 --refuse tsize --timeout 60 -L -P /run/hpa.pid --frobnicate"
	EOF
	maintscript postinst configure ""
	[ "$status" -eq 0 ]
	cat "$ROOT/etc/default/ctftpd"
	settings
	[ "$CTFTPD_DIRECTORY" = /var/lib/tftpboot ]
	[ "$CTFTPD_OPTIONS" = "--user tftpd --address 127.0.0.1:69 --secure -vv -B 1468 --refuse tsize --idle-timeout 60" ]
	# the file says where its values came from and what was left out
	grep -q "^# Written when ctftpd was installed, from tftpd-hpa's settings" "$ROOT/etc/default/ctftpd"
	grep -qx '#   TFTP_ADDRESS="127.0.0.1:69"' "$ROOT/etc/default/ctftpd"
	local name
	for name in "-L:" "-P /run/hpa.pid:" "--frobnicate:"; do
		grep -q "^#   $name" "$ROOT/etc/default/ctftpd"
		grep -q "^ctftpd: NOT carried over: $name" <<<"$output"
	done
	grep -q "^ctftpd: translated: --timeout 60 became --idle-timeout 60" <<<"$output"
	grep -q "^ctftpd: imported tftpd-hpa's settings into /etc/default/ctftpd" <<<"$output"
	# the rest of ctftpd's file is kept (its documentation of the options)
	grep -q '^# /etc/default/ctftpd: settings for ctftpd' "$ROOT/etc/default/ctftpd"
	# under systemd, the socket listens on that address only
	diff -u - <(grep -v '^#' "$ROOT/etc/systemd/system/ctftpd.socket.d/tftpd-hpa.conf") <<-'EOF'
		[Socket]
		ListenDatagram=
		ListenDatagram=127.0.0.1:69
	EOF
}

@test "deb: the import quotes what it writes (read back unchanged)" {
	unpacked
	local dir='/srv/a"b$c`d\e'"'f"
	# shellcheck disable=SC2016 # a literal $ for the file
	printf 'TFTP_DIRECTORY=%s\nTFTP_ADDRESS=":1069"\nTFTP_OPTIONS="-s -m /etc/tftp\\$map"\n' \
		"'/srv/a\"b\$c\`d\\e'\"'\"'f'" >"$ROOT/etc/default/tftpd-hpa"
	cat "$ROOT/etc/default/tftpd-hpa"
	maintscript postinst configure ""
	[ "$status" -eq 0 ]
	settings
	echo "directory: $CTFTPD_DIRECTORY"
	[ "$CTFTPD_DIRECTORY" = "$dir" ]
	[ "$CTFTPD_OPTIONS" = '--user tftp --address :1069 -s -m /etc/tftp$map' ]
	# the note at installation shows the line as the file holds it
	local line
	line=$(grep '^CTFTPD_DIRECTORY=' "$ROOT/etc/default/ctftpd")
	grep -qxF "ctftpd:        $line" <<<"$output"
	grep -qx 'ListenDatagram=1069' "$ROOT/etc/systemd/system/ctftpd.socket.d/tftpd-hpa.conf"
}

@test "deb: a /etc/default/tftpd-hpa that does not parse leaves ctftpd's defaults, and says so" {
	unpacked
	printf 'TFTP_DIRECTORY="/var/lib/tftpboot"\nTFTP_OPTIONS="--secure\n' \
		>"$ROOT/etc/default/tftpd-hpa"
	maintscript postinst configure ""
	[ "$status" -eq 0 ]
	cmp "$ROOT/etc/default/ctftpd" "$top_srcdir/contrib/default/ctftpd"
	grep -q "^ctftpd: could not import /etc/default/tftpd-hpa" <<<"$output"
}

@test "deb: upgrades and reinstallations leave /etc/default/ctftpd as the admin left it" {
	unpacked
	printf 'TFTP_DIRECTORY="/var/lib/tftpboot"\n' >"$ROOT/etc/default/tftpd-hpa"
	printf 'CTFTPD_OPTIONS="--user tftp"\nCTFTPD_DIRECTORY="/srv/edited"\n' \
		>"$ROOT/etc/default/ctftpd"
	cp "$ROOT/etc/default/ctftpd" "$BATS_TEST_TMPDIR/edited"
	maintscript postinst configure 0.1.0-1
	[ "$status" -eq 0 ]
	cmp "$ROOT/etc/default/ctftpd" "$BATS_TEST_TMPDIR/edited"
	[ -z "$output" ]
	# a first installation finding the file (left behind by hand) keeps it
	# too, and says tftpd-hpa's was not imported
	maintscript postinst configure ""
	[ "$status" -eq 0 ]
	cmp "$ROOT/etc/default/ctftpd" "$BATS_TEST_TMPDIR/edited"
	grep -q "/etc/default/tftpd-hpa not imported" <<<"$output"
	# an upgrade does not bring back a deleted file
	rm "$ROOT/etc/default/ctftpd"
	maintscript postinst configure 0.1.0-1
	[ "$status" -eq 0 ]
	[ ! -e "$ROOT/etc/default/ctftpd" ]
}

@test "deb: purge removes the settings it wrote, never the files in /srv/tftp" {
	unpacked
	printf 'TFTP_ADDRESS="127.0.0.1:69"\n' >"$ROOT/etc/default/tftpd-hpa"
	maintscript postinst configure ""
	[ "$status" -eq 0 ]
	[ -f "$ROOT/etc/systemd/system/ctftpd.socket.d/tftpd-hpa.conf" ]
	mkdir -p "$ROOT/srv/tftp/pxelinux.cfg"
	echo "default local" >"$ROOT/srv/tftp/pxelinux.cfg/default"
	echo kernel >"$ROOT/srv/tftp/vmlinuz"
	maintscript postrm remove
	[ "$status" -eq 0 ]
	[ -f "$ROOT/etc/default/ctftpd" ]
	maintscript postrm purge
	[ "$status" -eq 0 ]
	[ ! -e "$ROOT/etc/default/ctftpd" ]
	[ ! -e "$ROOT/etc/systemd/system/ctftpd.socket.d" ]
	[ "$(cat "$ROOT/srv/tftp/vmlinuz")" = kernel ]
	[ "$(cat "$ROOT/srv/tftp/pxelinux.cfg/default")" = "default local" ]
	# tftpd-hpa's file is tftpd-hpa's (its conffile)
	[ -f "$ROOT/etc/default/tftpd-hpa" ]
	# an empty /srv/tftp, made by the postinst, goes
	rm -r "$ROOT/srv/tftp"
	maintscript postinst configure ""
	[ -d "$ROOT/srv/tftp" ]
	maintscript postrm purge
	[ "$status" -eq 0 ]
	[ ! -e "$ROOT/srv/tftp" ]
}

@test "deb: reinstalling with UDP port 69 taken configures the package and says why (init script)" {
	unpacked
	[ "$(id -u)" -eq 0 ] || skip "needs root (mount and network namespaces for /etc/init.d, /run and port 69)"
	unshare --mount --net true 2>/dev/null || skip "cannot make mount and network namespaces (unshare)"
	command -v ip >/dev/null 2>&1 || skip "ip not found (apt-get install iproute2)"
	command -v start-stop-daemon >/dev/null 2>&1 || skip "start-stop-daemon not found"
	[ -r /lib/lsb/init-functions ] || skip "no /lib/lsb/init-functions (apt-get install sysvinit-utils)"
	id nobody >/dev/null 2>&1 || skip "no user nobody"
	local t="$BATS_TEST_TMPDIR"
	mkdir -p "$t/init.d" "$t/run" "$t/served"
	chmod 755 "$t" "$t/served"
	# The packaged init script, running the packaged daemon on 127.0.0.1.
	printf 'CTFTPD_OPTIONS="--user nobody --address 127.0.0.1:69"\nCTFTPD_DIRECTORY="%s"\n' \
		"$t/served" >"$t/default"
	sed -e "s|^DAEMON=.*|DAEMON=$PKG/root/usr/sbin/ctftpd|" \
		-e "s|^DEFAULTS=.*|DEFAULTS=$t/default|" \
		"$PKG/root/etc/init.d/ctftpd" >"$t/init.d/ctftpd"
	chmod 755 "$t/init.d/ctftpd"
	# invoke-rc.d as under sysvinit: the init script, given the action
	printf '#!/bin/sh\n[ "$1" != --skip-systemd-native ] || shift\nexec "/etc/init.d/$1" "$2"\n' \
		>"$STUBS/invoke-rc.d"
	# In the namespaces: that init.d; a /run of the test's (the pidfile; and
	# no /run/systemd, so the sysvinit path runs); a loopback of its own
	# where another server holds 127.0.0.1:69.  The postinst runs as for
	# "apt-get install --reinstall": configure with the installed version,
	# no DPKG_ROOT (debhelper's init snippet runs only on the live system).
	cat >"$t/reinstall.sh" <<-'EOF'
		set -u
		cleanup() {
			for f in "$T/blocker.pid" "$T/run/ctftpd.pid"; do
				[ ! -s "$f" ] || kill "$(cat "$f")" 2>/dev/null || true
			done
		}
		trap cleanup EXIT
		mount --bind "$T/init.d" /etc/init.d
		mount --bind "$T/run" /run
		ip link set lo up
		"$CTFTPD" --user nobody --pidfile "$T/blocker.pid" \
			--address 127.0.0.1:69 "$T/served" || exit 1
		echo "== port 69 taken"
		rc=0
		env PATH="$STUBS:$PATH" sh -e "$POSTINST" configure 0.1.0-1 || rc=$?
		echo "== postinst: $rc"
		pid=$(cat "$T/blocker.pid")
		kill "$pid"
		n=0
		while kill -0 "$pid" 2>/dev/null && [ $n -lt 100 ]; do
			sleep 0.1
			n=$((n + 1))
		done
		echo "== port 69 free"
		rc=0
		env PATH="$STUBS:$PATH" sh -e "$POSTINST" configure 0.1.0-1 || rc=$?
		echo "== postinst: $rc"
		[ -s "$T/run/ctftpd.pid" ] && kill -0 "$(cat "$T/run/ctftpd.pid")" &&
			echo "== running"
		/etc/init.d/ctftpd stop
	EOF
	run env T="$t" STUBS="$STUBS" CTFTPD="$CTFTPD" POSTINST="$PKG/control/postinst" \
		unshare --mount --net sh "$t/reinstall.sh"
	echo "$output"
	[ "$status" -eq 0 ]
	local taken free
	taken=$(sed -n '/^== port 69 taken/,/^== port 69 free/p' <<<"$output")
	free=$(sed -n '/^== port 69 free/,$p' <<<"$output")
	# taken: the init script failed (ctftpd said why), the postinst said
	# what to do and exited 0
	grep -q 'in use' <<<"$taken"
	grep -q '^ctftpd: the init script could not start ctftpd' <<<"$taken"
	grep -q 'update-rc.d ctftpd disable' <<<"$taken"
	grep -qx '== postinst: 0' <<<"$taken"
	# free: the same postinst started ctftpd, and said nothing of the kind
	grep -qx '== postinst: 0' <<<"$free"
	grep -qx '== running' <<<"$free"
	! grep -q 'could not start' <<<"$free" || false
}

@test "versions agree: configure, debian/changelog, the RPM spec" {
	local deb rpm
	deb=$(sed -n '1s/^ctftpd (\([^)-]*\)-[^)]*).*/\1/p' "$top_srcdir/contrib/debian/changelog")
	rpm=$(sed -n 's/^Version: *//p' "$top_srcdir/contrib/rpm/ctftpd.spec")
	echo "configure $(pkg_version), debian $deb, rpm $rpm"
	[ "$deb" = "$(pkg_version)" ]
	[ "$rpm" = "$(pkg_version)" ]
}

@test "systemd units: systemd-analyze verify finds nothing to say" {
	command -v systemd-analyze >/dev/null 2>&1 || skip "systemd-analyze not found (apt-get install systemd)"
	[ -e /lib/systemd/system/sockets.target ] || skip "no systemd units installed (apt-get install systemd)"
	local dir="$BATS_TEST_TMPDIR/units" f
	mkdir -p "$dir"
	# the binary is not installed: point ExecStart at the one just built
	for f in "$top_srcdir"/contrib/systemd/*; do
		sed "s|/usr/sbin/ctftpd|$CTFTPD|" "$f" >"$dir/${f##*/}"
	done
	run systemd-analyze verify --man=no "$dir/ctftpd.socket" \
		"$dir/ctftpd.service" "$dir/ctftpd-standalone.service"
	echo "$output"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
}

@test "contrib shell scripts parse (init.d with sh -n)" {
	sh -n "$top_srcdir/contrib/init.d/ctftpd"
	sh -n "$top_srcdir/contrib/debian/postinst"
	sh -n "$top_srcdir/contrib/debian/postrm"
	sh -n "$top_srcdir/contrib/debian/prerm"
	grep -q '^### BEGIN INIT INFO' "$top_srcdir/contrib/init.d/ctftpd"
	head -n 1 "$top_srcdir/contrib/openrc/ctftpd" | grep -qx '#!/sbin/openrc-run'
}

@test "rpm: the spec parses and rpmbuild -bb builds it (no dependency check)" {
	command -v rpmbuild >/dev/null 2>&1 || skip "rpmbuild not found (apt-get install rpm)"
	command -v rpmspec >/dev/null 2>&1 || skip "rpmspec not found (apt-get install rpm)"
	local spec="$top_srcdir/contrib/rpm/ctftpd.spec" top="$BATS_TEST_TMPDIR/rpm"
	run rpmspec -P "$spec"
	[ "$status" -eq 0 ]
	[[ "$output" == *"Version:        $(pkg_version)"* ]]
	mkdir -p "$top/SOURCES" "$top/src"
	clean_make_env make -s -C "$top_builddir" distdir \
		distdir="$top/src/ctftpd-$(pkg_version)" >/dev/null
	tar -C "$top/src" -czf "$top/SOURCES/ctftpd-$(pkg_version).tar.gz" "ctftpd-$(pkg_version)"
	# --nodeps: the build dependencies are Debian packages here, not RPMs;
	# no debuginfo package: Debian has no find-debuginfo.  --noclean keeps
	# the build root to look at.
	run clean_make_env rpmbuild --define "_topdir $top" \
		--define 'debug_package %{nil}' --define '_smp_mflags -j2' \
		--noclean --nodeps -bb "$spec"
	[ "$status" -eq 0 ] || { tail -n 40 <<<"$output"; return 1; }
	local rpmfile list path
	rpmfile=$(ls "$top"/RPMS/*/ctftpd-"$(pkg_version)"-*.rpm)
	list=$(rpm -qlp "$rpmfile")
	echo "$list"
	for path in /usr/sbin/ctftpd /usr/lib/systemd/system/ctftpd.socket \
		/usr/lib/systemd/system/ctftpd.service /etc/sysconfig/ctftpd \
		/var/lib/tftpboot /usr/lib/sysusers.d/ctftpd.conf; do
		grep -qx -e "$path" <<<"$list" || { echo "missing $path" >&2; return 1; }
	done
	grep -q 'man8/ctftpd\.8' <<<"$list"
	# the units read the RPM distributions' settings file
	grep -q '^EnvironmentFile=-/etc/sysconfig/ctftpd$' \
		"$top"/BUILDROOT/ctftpd-*/usr/lib/systemd/system/ctftpd.service
	grep -q '^CTFTPD_DIRECTORY="/var/lib/tftpboot"$' \
		"$top"/BUILDROOT/ctftpd-*/etc/sysconfig/ctftpd
	grep -q '^CTFTPD_OPTIONS=' "$top"/BUILDROOT/ctftpd-*/etc/sysconfig/ctftpd
	# ... and mentions no init script: the RPM ships none
	! grep -Ei 'init\.d|init script|openrc' \
		"$top"/BUILDROOT/ctftpd-*/etc/sysconfig/ctftpd || false
}
