/**
 * The stack file `homefleet init` writes: small, commented, and valid as it is (it renders and
 * reviews without an error), so a newcomer changes values instead of writing structure.
 */
export function starterStackFile(stack: string): string {
  return `# homefleet stack "${stack}": written by \`homefleet init\`. Reference: docs/config.md.
# Check it with: npx homefleet render --stack ${stack} --out out && npx homefleet review --stack ${stack}
config:
  homefleet:hosts:
    box:                                  # any name; used in unit names and messages
      address: 192.0.2.10                 # the host's address (SSH as root with a key)
      arch: x86_64                        # or aarch64
      os: systemd                         # a Debian 12 host; or nixos
  homefleet:stacks:
    llm:
      host: box
      kind: litellm                       # the LiteLLM proxy in podman, with PostgreSQL and Redis
      network:
        subnet: 10.89.0.0/24              # its own bridge; the host is 10.89.0.1 on it
      container:
        image: ghcr.io/berriai/litellm-database:main-v1.81.3-stable   # always a pinned tag
        memoryMax: 2G
      database: {}                        # a database and role; the password is generated
      cache:
        port: 6380                        # Redis with a generated password, RDB + AOF
      litellm:
        models:
          # A provider on the host listens on the bridge gateway (inside the container,
          # 127.0.0.1 is the container). A hosted provider takes its key from a secret:
          #   - {name: gpt-4o, model: openai/gpt-4o, apiKeyConfig: openaiApiKey}
          #   then: pulumi config set --secret homefleet:openaiApiKey < openai.key
          - name: llama-3.1-8b
            model: ollama/llama3.1:8b
            apiBase: http://10.89.0.1:11434
  # Deploying needs the SSH key as a secret: pulumi config set --secret homefleet:sshPrivateKey < key
`;
}
