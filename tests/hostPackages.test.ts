/** The host-packages provider's pure decisions: which names it accepts, and when it installs. */
import { checkPackages, packagesChanged, type HostPackagesInputs } from "../deploy/hostPackagesProvider";

const inputs = (packages: string[]): HostPackagesInputs => ({ host: "h1", connection: { address: "10.0.0.2", port: 22, user: "root" }, privateKey: "k", packages });

describe("host packages", () => {
  it("sorts and de-duplicates the list", () => {
    expect(checkPackages(inputs(["redis-server", "jq", "redis-server"])).packages).toEqual(["jq", "redis-server"]);
  });

  it("refuses anything that is not a Debian package name, so no option or shell text reaches apt-get", () => {
    expect(() => checkPackages(inputs(["-o=APT::Foo"]))).toThrow(/host h1: "-o=APT::Foo" is not a Debian package name/);
    expect(() => checkPackages(inputs(["jq; reboot"]))).toThrow(/not a Debian package name/);
  });

  it("installs on a new list or a package a refresh found missing, and not otherwise", () => {
    const news = inputs(["jq", "redis-server"]);
    expect(packagesChanged({ packages: ["jq"], installed: { jq: "1.6" } }, news)).toBe(true);
    expect(packagesChanged({ packages: ["jq", "redis-server"], installed: { jq: "1.6", "redis-server": "missing" } }, news)).toBe(true);
    expect(packagesChanged({ packages: ["jq", "redis-server"], installed: { jq: "1.6", "redis-server": "5:7.0" } }, news)).toBe(false);
    // A new host key in config (a re-keyed host accepted) is written to the state by an update.
    expect(packagesChanged({ ...news, installed: { jq: "1.6", "redis-server": "5:7.0" } }, { ...news, connection: { ...news.connection, hostKey: "ssh-ed25519 AAAAnew" } })).toBe(true);
  });
});
