#!/usr/bin/env bats
# The command line as a module: tests/config_test calls config_parse with
# argument vectors, once built with getopt_long and once (config_test_short)
# with the short-option fallback.  Then the manual against --help.

load helpers

CONFIG_TEST="$top_builddir/tests/config_test"
CONFIG_TEST_SHORT="$top_builddir/tests/config_test_short"

run_suite() {
	local suite=$1 driver
	for driver in "$CONFIG_TEST" "$CONFIG_TEST_SHORT"; do
		run "$driver" "$suite"
		echo "$output"
		[ "$status" -eq 0 ]
		[[ "$output" == *" 0 failed"* ]]
	done
}

@test "config: every option's range edges, junk values, sizes" {
	run_suite ranges
}

@test "config: defaults, repeats, addresses, port ranges, -v, refused options" {
	run_suite values
}

@test "config: tftpd-hpa's spellings, grouped short options, abbreviations" {
	run_suite spellings
}

@test "config: --help, --version, unknown, ambiguous, missing values, reparse" {
	run_suite errors
}

@test "config: --help is complete, fits 79 columns, shows every range" {
	run_suite help
}

@test "config test driver rejects an unknown suite" {
	run "$CONFIG_TEST" nosuch
	[ "$status" -eq 2 ]
}

@test "ctftpd(8) OPTIONS match --help: names, sections, ranges, defaults" {
	command -v groff >/dev/null || skip "groff is not installed"
	"$CTFTPD" --help >"$BATS_TEST_TMPDIR/help"
	# One line per paragraph, no hyphenation: easy to match.
	groff -man -Tascii -rLL=1000n -rHY=0 -P-cbou \
		"$top_srcdir/man/ctftpd.8" >"$BATS_TEST_TMPDIR/man"
	run perl - "$BATS_TEST_TMPDIR/help" "$BATS_TEST_TMPDIR/man" <<'PERL'
use strict;
use warnings;
my ($helpfile, $manfile) = @ARGV;
my ($section, $cur, %help, %man, $bad);
# --help: "Section:" lines, option lines ("  -x, --name, --alias ..." or
# "      --name ..."), continuation lines indented 29 columns.
open my $h, '<', $helpfile or die "$helpfile: $!";
while (<$h>) {
	chomp;
	if (/^(\S[^(]*?)(?: \(.*\))?:$/ && !/^Usage/) {
		$section = $1;
	} elsif (/^  (?:-\S, |    )--([a-z0-9-]+)((?:, --[a-z0-9-]+)*)/) {
		my ($name, $aliases) = ($1, $2);
		my @names = ($name, $aliases =~ /--([a-z0-9-]+)/g);
		$cur = { names => \@names, section => $section, text => $_ };
		$help{$_} = $cur for @names;
	} elsif (/^ {29}\S/ && $cur) {
		$cur->{text} .= ' ' . substr($_, 29);
	} else {
		undef $cur;
	}
}
# ctftpd(8): the OPTIONS section, subsections at column 3, option heads at
# 7, their paragraphs at 14.
open my $m, '<', $manfile or die "$manfile: $!";
my $in = 0;
while (<$m>) {
	chomp;
	$in = /^OPTIONS/ ? 1 : /^\S/ ? 0 : $in;
	next unless $in;
	if (/^ {3}(\S.*)$/) {
		$section = $1;
	} elsif (/^ {7}-/) {
		$cur = { section => $section, text => '' };
		$man{$_} = $cur for /--([a-z0-9-]+)/g;
	} elsif (/^ {14}(\S.*)$/ && $cur) {
		$cur->{text} .= " $1";
	}
}
sub fail { print "$_[0]\n"; $bad = 1; }
for my $name (sort keys %man) {
	fail("--$name is in ctftpd(8) but not in --help") unless $help{$name};
}
for my $name (sort keys %help) {
	my ($e, $d) = ($help{$name}, $man{$name});
	if (!$d) {
		fail("--$name is in --help but not in ctftpd(8)");
		next;
	}
	fail("--$name: section '$e->{section}' in --help, '$d->{section}' in ctftpd(8)")
		if $e->{section} ne $d->{section};
	(my $text = $d->{text}) =~ s/\s+/ /g;
	for my $range ($e->{text} =~ /(\d+\.\.\d+[KMG]?)/g) {
		(my $words = $range) =~ s/\.\./ to /;
		fail("--$name: --help says $range, ctftpd(8) lacks '$words'")
			unless index($text, $words) >= 0;
	}
	for my $default ($e->{text} =~ /\(default ([^ ;)]+)/g) {
		fail("--$name: --help says default $default, ctftpd(8) does not")
			unless $text =~ /default: \Q$default\E\b/i;
	}
}
print "help and manual agree on ", scalar(keys %help), " names\n" unless $bad;
exit($bad ? 1 : 0);
PERL
	echo "$output"
	[ "$status" -eq 0 ]
}
