from ops_console.runbooks.transcripts import command_words, read_block, split_commands


def kinds(body, **kw):
    pieces, depth = read_block(body, **kw)
    return [(p.kind, p.text) for p in pieces], depth


def test_prompts_and_sample_output_are_separated():
    [command] = split_commands("$ kubectl get pods \\\n    -n x\nNAME  READY\npod-1 1/1\n")
    assert (command.text, command.output) == ("kubectl get pods \\\n    -n x", ["NAME  READY", "pod-1 1/1"])
    # Without prompts a printed table (and what follows it up to a blank line) is output.
    commands = split_commands("kubectl get pod\n\nNAMESPACE   NAME   READY\ndefault     a      1/1\n\n"
                              "kubectl get svc\n")
    assert [c.text for c in commands] == ["kubectl get pod", "kubectl get svc"]
    assert commands[0].output == ["NAMESPACE   NAME   READY", "default     a      1/1"]
    # A here-document belongs to its command.
    [command] = split_commands("$ cat <<EOF > x\nline\nEOF\n")
    assert command.text == "cat <<EOF > x\nline\nEOF"


def test_a_session_and_what_is_typed_in_it_are_a_persons_step_up_to_exit():
    pieces, depth = kinds("$ NODE=<node>\n$ kubectl get node $NODE\n$ oc debug node/$NODE\n# chroot /host\n"
                          "# df -h\n# exit\n$ exit\n$ kubectl get pods\n")
    assert pieces == [("shell", "NODE=<node>\nkubectl get node $NODE"),
                      ("manual", "NODE=<node>\noc debug node/$NODE\nchroot /host\ndf -h\nexit\nexit"),
                      ("shell", "kubectl get pods")]
    assert depth == 0
    # chroot opened a second shell: one exit leaves the person in the first.
    assert kinds("oc debug node/n1\nchroot /host\nexit\nkubectl get pods\n")[1] == 1


def test_a_session_stays_open_across_blocks():
    _, depth = read_block("kubectl rsh -n etcd etcd-0\n")
    assert kinds("etcdctl endpoint health\n", depth=depth) == ([("manual", "etcdctl endpoint health")], 1)
    assert kinds("exit\nkubectl get pods\n", depth=1) == ([("manual", "exit"), ("shell", "kubectl get pods")], 0)


def test_what_opens_a_session_and_what_does_not():
    def manual(command):
        return kinds(command)[0][0][0] == "manual"

    for command in ("kubectl exec -it pod-0 -- bash", "kubectl exec -c etcdctl pod-0", "oc rsh pod-0",
                    "kubectl -n default debug node/n1", "ssh -i key.pem admin@node-1", "chroot /host",
                    "sudo -i", "kubectl edit cm x", "kubectl logs -f pod-0", "journalctl -u kubelet",
                    "etcdctl defrag", "df -h /host/var"):
        assert manual(command), command
    for command in ("kubectl exec pod-0 -- ls /", "oc debug node/n1 -- chroot /host df -h", "ssh node-1 uptime",
                    "kubectl get pods -o wide", "kubectl apply -f x.yaml", "curl -fsS http://x/healthz"):
        assert not manual(command), command


def test_command_words_skip_wrappers_and_keep_substitutions_whole():
    assert command_words("sudo -E env A=1 /usr/bin/kubectl get $(echo a b) x") == ["kubectl", "get", "SUBSTITUTION",
                                                                                  "x"]
