#!/usr/bin/perl
# validate_meta.pl META.json [Makefile hvc.control] — checks META.json against
# the PGXN Meta Spec 1.0.0 (https://pgxn.org/spec/): required keys and their
# formats, known licences, provides entries, prereqs phases and relations,
# resources, tags; and that its versions agree with the Makefile and
# hvc.control.  Prints "ok - ..." / "not ok - ..." lines and
# "N passed, M failed"; exits non-zero on failure.  Core Perl only (JSON::PP).
use strict;
use warnings;
use JSON::PP;

my ($meta_file, $makefile, $control) = (@ARGV, 'Makefile', 'hvc.control')[0 .. 2];
my ($pass, $fail) = (0, 0);
sub check($$) { my ($ok, $what) = @_; if ($ok) { $pass++; print "ok - $what\n" } else { $fail++; print "not ok - $what\n" } }

my $semver = qr/^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z-]+)?$/;
my $version_range = qr/^\s*(?:(?:[<>]=?|==|!=)\s*)?(?:0|(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z-]+)?)\s*$/;
my %licences = map { $_ => 1 } qw(agpl_3 apache_1_1 apache_2_0 artistic_1 artistic_2 bsd
    freebsd gfdl_1_2 gfdl_1_3 gpl_1 gpl_2 gpl_3 lgpl_2_1 lgpl_3_0 mit mozilla_1_0 mozilla_1_1
    openssl perl_5 postgresql qpl_1_0 ssleay sun zlib open_source restricted unrestricted unknown);

my $text = do { local $/; open(my $fh, '<', $meta_file) or die "cannot read $meta_file: $!\n"; <$fh> };
my $m = eval { JSON::PP->new->relaxed(0)->decode($text) };
check(ref $m eq 'HASH', "$meta_file is a JSON object");
$m ||= {};

for my $k (qw(name abstract version maintainer license provides meta-spec)) {
    check(exists $m->{$k}, "required key \"$k\" is present");
}
check(defined $m->{name} && $m->{name} =~ /^[A-Za-z][A-Za-z0-9_-]*$/, 'name is a valid distribution name');
check(defined $m->{abstract} && !ref $m->{abstract} && length $m->{abstract}, 'abstract is a non-empty string');
check(defined $m->{version} && $m->{version} =~ $semver, 'version is a semantic version');
my $maint = $m->{maintainer};
check(defined $maint && (!ref $maint || (ref $maint eq 'ARRAY' && @$maint && !(grep { ref || !length } @$maint))),
      'maintainer is a string or a non-empty list of strings');
my @lic = ref $m->{license} eq 'ARRAY' ? @{$m->{license}} : ref $m->{license} eq 'HASH' ? () : ($m->{license} // ());
check((ref $m->{license} eq 'HASH' && %{$m->{license}}) || (@lic && !(grep { !$licences{$_} } @lic)),
      'license is a known licence string (or a name => URL map)');
check(($m->{license} // '') eq 'postgresql', 'license is postgresql');

my $p = $m->{provides};
check(ref $p eq 'HASH' && %$p, 'provides is a non-empty object');
for my $ext (sort keys %{ ref $p eq 'HASH' ? $p : {} }) {
    my $e = $p->{$ext};
    check(ref $e eq 'HASH' && defined $e->{file} && defined $e->{version}, "provides.$ext has file and version");
    check(($e->{version} // '') =~ $semver, "provides.$ext.version is a semantic version");
    for my $k (keys %{ ref $e eq 'HASH' ? $e : {} }) {
        check($k =~ /^(file|version|abstract|docfile|x_.*|X_.*)$/, "provides.$ext.$k is a spec key");
    }
}
my $ms = $m->{'meta-spec'};
check(ref $ms eq 'HASH' && ($ms->{version} // '') eq '1.0.0', 'meta-spec.version is 1.0.0');

if (exists $m->{prereqs}) {
    my $pr = $m->{prereqs};
    check(ref $pr eq 'HASH', 'prereqs is an object');
    for my $phase (sort keys %{ ref $pr eq 'HASH' ? $pr : {} }) {
        check($phase =~ /^(configure|build|runtime|test|develop)$/, "prereqs phase $phase is known");
        for my $rel (sort keys %{ $pr->{$phase} }) {
            check($rel =~ /^(requires|recommends|suggests|conflicts)$/, "prereqs.$phase relation $rel is known");
            for my $dep (sort keys %{ $pr->{$phase}{$rel} }) {
                my $v = $pr->{$phase}{$rel}{$dep};
                check(defined $v && ("$v" eq '0' || "$v" =~ $version_range), "prereqs.$phase.$rel.$dep has a version (range)");
            }
        }
    }
    my $pg = $pr->{runtime}{requires}{PostgreSQL} // '';
    check($pg =~ /^(>=\s*)?15\.0\.0$/, "runtime requires PostgreSQL >= 15 (got '$pg')");
}
if (exists $m->{resources}) {
    my $r = $m->{resources};
    check(ref $r eq 'HASH', 'resources is an object');
    for my $k (sort keys %{ ref $r eq 'HASH' ? $r : {} }) {
        check($k =~ /^(homepage|bugtracker|repository|x_.*|X_.*)$/, "resources.$k is a spec key");
    }
    if (ref $r->{bugtracker} eq 'HASH') {
        check((grep { /^(web|mailto)$/ } keys %{ $r->{bugtracker} }) > 0, 'resources.bugtracker has web or mailto');
    }
}
if (exists $m->{tags}) {
    check(ref $m->{tags} eq 'ARRAY' && !(grep { ref || !length || length > 255 } @{ $m->{tags} }), 'tags are non-empty strings');
}
if (exists $m->{release_status}) {
    check($m->{release_status} =~ /^(stable|testing|unstable)$/, 'release_status is stable, testing or unstable');
}
for my $k (keys %$m) {
    check($k =~ /^(name|abstract|description|version|maintainer|license|provides|meta-spec|prereqs|resources|generated_by|no_index|tags|release_status|x_.*|X_.*)$/,
          "top-level key $k is a spec key");
}

# The versions agree with the build.
my ($mk_version) = do { local $/; open(my $fh, '<', $makefile) or die "$makefile: $!\n"; <$fh> } =~ /^EXTVERSION\s*=\s*(\S+)/m;
my ($ctl_version) = do { local $/; open(my $fh, '<', $control) or die "$control: $!\n"; <$fh> } =~ /^default_version\s*=\s*'([^']+)'/m;
check(defined $mk_version && ($m->{version} // '') eq $mk_version, "version equals the Makefile's EXTVERSION ($mk_version)");
check(defined $ctl_version && ($m->{provides}{hvc}{version} // '') eq $ctl_version, "provides.hvc.version equals hvc.control's default_version ($ctl_version)");
check(($m->{provides}{hvc}{file} // '') eq "sql/hvc--$mk_version.sql", 'provides.hvc.file is the install script the Makefile builds');

print "$pass passed, $fail failed\n";
exit($fail ? 1 : 0);
