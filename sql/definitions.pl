#!/usr/bin/perl
# definitions.pl — print the re-runnable statements of the install parts.
#
# An upgrade script is the hand-written migration of state (tables, types,
# rows, objects created at run time) plus every definition of the new
# version, re-run over the old one.  This prints those definitions from the
# parts, in order: top-level CREATE OR REPLACE FUNCTION / PROCEDURE / VIEW /
# AGGREGATE, COMMENT ON, GRANT and REVOKE statements.  Everything else
# (CREATE TABLE, CREATE TYPE, INSERT, triggers, ...) is install-only and is
# left to sql/upgrade/<from>--<to>/.
#
# Usage: perl sql/definitions.pl sql/parts/*.sql > out.sql
use strict;
use warnings;

my $keep = qr/^\s*(CREATE\s+OR\s+REPLACE\s+(FUNCTION|PROCEDURE|VIEW|AGGREGATE)\b|COMMENT\s+ON\b|GRANT\b|REVOKE\b)/i;

for my $file (@ARGV) {
    open(my $fh, '<', $file) or die "definitions.pl: cannot read $file: $!\n";
    local $/;
    my $text = <$fh>;
    close $fh;
    my @out;
    for my $stmt (split_statements($text, $file)) {
        (my $code = $stmt) =~ s/\A(?:\s*--[^\n]*\n|\s+)*//;   # leading comments
        push @out, $stmt if $code =~ $keep;
    }
    print "-- from $file\n", map({ "$_\n" } @out), "\n" if @out;
}

# Split SQL text into statements at top-level semicolons, skipping quoted
# strings ('', ""), dollar-quoted bodies ($tag$ ... $tag$) and comments.
sub split_statements {
    my ($s, $file) = @_;
    my @stmts;
    my $start = 0;
    my $i = 0;
    my $n = length $s;
    while ($i < $n) {
        my $rest = substr($s, $i);
        if ($rest =~ /\A--[^\n]*/)               { $i += length $&; next; }
        if ($rest =~ m{\A/\*.*?\*/}s)             { $i += length $&; next; }
        if ($rest =~ /\A'(?:[^']|'')*'/s)         { $i += length $&; next; }
        if ($rest =~ /\A"(?:[^"]|"")*"/s)         { $i += length $&; next; }
        if ($rest =~ /\A(\$[A-Za-z_]*\$)/) {
            my $tag = $1;
            my $end = index($s, $tag, $i + length $tag);
            die "definitions.pl: $file: unterminated $tag\n" if $end < 0;
            $i = $end + length $tag;
            next;
        }
        if (substr($s, $i, 1) eq ';') {
            my $stmt = substr($s, $start, $i + 1 - $start);
            $stmt =~ s/\A\s+//;
            push @stmts, $stmt;
            $start = $i + 1;
        }
        $i++;
    }
    return @stmts;
}
