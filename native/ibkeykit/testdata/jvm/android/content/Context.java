// A stand-in for Android's Context, which gobind's go.Seq names: the
// host JVM has no Android classes. Seq.setContext is never called here.
package android.content;

public class Context {}
