// IbkeyJVM drives the ibkeykit facade through its gobind Java bindings
// (JNI), as a native Android app would, with a SecretStore written in
// Java. The Go test TestJVM (jvm_test.go) starts it and talks to it one
// line at a time: a command on stdin, one line of answer on stdout,
// "error CODE" when the facade threw (CODE from Ibkeykit.code).
import ibkeykit.Activation;
import ibkeykit.Biometrics;
import ibkeykit.Deliveries;
import ibkeykit.Delivery;
import ibkeykit.Enrollment;
import ibkeykit.Ibkeykit;
import ibkeykit.OCRAInput;
import ibkeykit.Protection;
import ibkeykit.Request;
import ibkeykit.Requests;
import ibkeykit.SecretStore;
import ibkeykit.User;
import ibkeykit.Users;
import ibkeykit.Vault;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.TreeMap;

public class IbkeyJVM {
	// A SecretStore kept in memory in Java: what a Keystore-backed one
	// does, without the Keystore. A missing secret is null.
	static final class MemoryStore implements SecretStore {
		final Map<String, byte[]> m = new TreeMap<>();
		int misses;

		@Override public synchronized byte[] get(String name) {
			byte[] b = m.get(name);
			if (b == null) {
				misses++;
				return null;
			}
			return b.clone();
		}

		@Override public synchronized void set(String name, byte[] secret) {
			m.put(name, secret.clone());
		}

		@Override public synchronized void delete(String name) {
			m.remove(name);
		}
	}

	// Biometrics whose prompt is always dismissed: the facade must see
	// the code thrown as CodeCancelled.
	static final class CancelledBiometrics implements Biometrics {
		@Override public byte[] enroll(String name) throws Exception {
			throw new Exception(Ibkeykit.CodeCancelled);
		}

		@Override public byte[] authenticate(String name, String reason) throws Exception {
			throw new Exception(Ibkeykit.CodeCancelled);
		}

		@Override public void remove(String name) {}
	}

	static String hex(String s) {
		byte[] b = new byte[s.length() / 2];
		for (int i = 0; i < b.length; i++) {
			b[i] = (byte) Integer.parseInt(s.substring(2 * i, 2 * i + 2), 16);
		}
		return new String(b, StandardCharsets.ISO_8859_1);
	}

	static byte[] key(String h) {
		return hex(h).getBytes(StandardCharsets.ISO_8859_1);
	}

	public static void main(String[] args) throws Exception {
		String dir = args[0];
		MemoryStore store = new MemoryStore();
		Vault vault = Ibkeykit.openVault(dir, store, new CancelledBiometrics());
		Enrollment enrollment = null;
		Activation activation = null;
		Request request = null;
		BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
		System.out.println("ready");
		for (String line; (line = in.readLine()) != null; ) {
			String[] a = line.split(" ");
			String out;
			try {
				switch (a[0]) {
				case "ocra": { // suite keyhex challenge
					OCRAInput oi = new OCRAInput();
					oi.setChallenge(a[3]);
					out = Ibkeykit.ocra(a[1], key(a[2]), oi);
					break;
				}
				case "hotp": // hash keyhex counter digits
					out = Ibkeykit.hotp(a[1], key(a[2]), Long.parseLong(a[3]), Long.parseLong(a[4]));
					break;
				case "totp": // hash keyhex unix period digits
					out = Ibkeykit.totp(a[1], key(a[2]), Long.parseLong(a[3]), Long.parseLong(a[4]), Long.parseLong(a[5]));
					break;
				case "enroll": // service username password channel
					enrollment = vault.startEnrollment(a[1], a[2], a[3], a[4]);
					out = "sent " + enrollment.getChannel();
					break;
				case "resend": // channel
					enrollment = vault.resend(enrollment, a[1]);
					out = "sent " + enrollment.getChannel();
					break;
				case "activate": // code
					activation = vault.activate(enrollment, a[1], "");
					out = "activated " + activation.username() + " " + activation.card();
					break;
				case "confirm-biometric": { // name
					Protection p = new Protection();
					p.setBiometric(true);
					User u = activation.confirm(a[1], p);
					out = "user " + u.getName() + " " + u.getGate();
					break;
				}
				case "confirm": { // name pin
					Protection p = new Protection();
					p.setPIN(a[2]);
					User u = activation.confirm(a[1], p);
					out = "user " + u.getName() + " " + u.getAccount() + " " + u.getGate() + " " + u.getSuite();
					break;
				}
				case "empty": // an object from its constructor, not from the facade
					out = new Vault().respond("x", "123456", Ibkeykit.withPIN("2468")) + "";
					break;
				case "users": {
					Users us = vault.users();
					StringBuilder sb = new StringBuilder("users");
					for (long i = 0; i < us.len(); i++) {
						sb.append(' ').append(us.get(i).getName());
					}
					out = sb.toString();
					break;
				}
				case "rename": // old new
					vault.rename(a[1], a[2]);
					out = "renamed";
					break;
				case "remove": // name
					vault.remove(a[1]);
					out = "removed";
					break;
				case "respond": // user challenge pin
					out = "response " + vault.respond(a[1], a[2], Ibkeykit.withPIN(a[3]));
					break;
				case "respond-biometric": // user challenge
					out = "response " + vault.respond(a[1], a[2], Ibkeykit.withBiometric("Log in"));
					break;
				case "poll": { // user: until a request comes
					long after = 0;
					for (request = null; request == null; ) {
						Requests rs = vault.poll(a[1], after, 5);
						after = rs.getNext();
						if (rs.len() > 0) {
							request = rs.get(0);
						}
					}
					StringBuilder sb = new StringBuilder("request " + request.id() + " " + request.user());
					for (long i = 0; i < request.numberCount(); i++) {
						sb.append(' ').append(request.number(i));
					}
					out = sb.toString();
					break;
				}
				case "approve": // number pin
					vault.approve(request, Long.parseLong(a[1]), Ibkeykit.withPIN(a[2]));
					out = "approved";
					break;
				case "deny": // reason
					vault.deny(request, a[1]);
					out = "denied";
					break;
				case "inbox": { // user pin
					Deliveries ds = vault.inbox(a[1], Ibkeykit.withPIN(a[2]));
					StringBuilder sb = new StringBuilder("inbox");
					for (long i = 0; i < ds.len(); i++) {
						Delivery d = ds.get(i);
						sb.append(' ').append(d.getKind()).append(' ').append(d.getText());
					}
					out = sb.toString();
					break;
				}
				case "secrets": { // the names the facade kept in the Java store
					StringBuilder sb = new StringBuilder("secrets");
					synchronized (store) {
						for (String n : store.m.keySet()) {
							sb.append(' ').append(n);
						}
						sb.append(" misses=").append(store.misses);
					}
					out = sb.toString();
					break;
				}
				case "reopen": // the vault again, over the same Java store
					vault.close();
					vault = Ibkeykit.openVault(dir, store, null);
					out = "reopened";
					break;
				case "gc": { // many proxies, then the collector
					for (int i = 0; i < 20000; i++) {
						Ibkeykit.withPIN("2468");
					}
					System.gc();
					out = "gc";
					break;
				}
				default:
					out = "unknown " + a[0];
				}
			} catch (Exception e) {
				out = "error " + Ibkeykit.code(e);
			}
			System.out.println(out);
			System.out.flush();
		}
	}
}
