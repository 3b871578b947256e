# fish completion for vem
#
# The commands and each command's options come from `vem __complete` (the
# table that also parses them and prints --help), read when this file is
# loaded. Install as $(PREFIX)/share/fish/vendor_completions.d/vem.fish.

# the command: the first word after the global options
function __vem_command
    for t in (commandline -opc)[2..-1]
        switch $t
            case '-*'
            case '*'
                echo $t
                return 0
        end
    end
    return 1
end

function __vem_using
    set -l cmd (__vem_command); or return 1
    test "$cmd" = $argv[1]
end

complete -c vem -f
complete -c vem -n 'not __vem_command' -a '(vem __complete 2>/dev/null)' -d command
complete -c vem -n 'not __vem_command' -s v -l verbose -d 'more detail'
complete -c vem -n 'not __vem_command' -s q -l quiet -d 'errors only'
complete -c vem -n 'not __vem_command' -l version -d 'print the version'
complete -c vem -n 'not __vem_command' -l help -d 'show help'
# vem help COMMAND: one command name, no options
function __vem_help_wants_command
    __vem_using help; or return 1
    set -l toks (commandline -opc)
    set -l at (contains -i -- help $toks)
    test (count $toks) -eq $at
end
complete -c vem -n '__vem_help_wants_command' -a '(vem __complete 2>/dev/null)' -d command

for cmd in (vem __complete 2>/dev/null)
    test $cmd = help; and continue
    for line in (vem __complete $cmd 2>/dev/null)
        set -l f (string split ' ' -- $line)
        set -l spec -c vem -n "__vem_using $cmd"
        test $f[1] != -; and set -a spec -s (string sub -s 2 -- $f[1])
        set -a spec -l (string sub -s 3 -- $f[2])
        switch $f[3]
            case FILE
                set -a spec -r -F
            case FORMAT
                set -a spec -x -a 'json text'
            case WORD
                set -a spec -x
        end
        complete $spec
    end
end
