// app.m is what an iOS app writes against the Objective-C bindings: the
// two seams (here kept in memory, where an app uses the Keychain and
// LocalAuthentication) and a challenge answered. TestObjC compiles it
// with the generated code (bind_test.go); it is not run.
#import <Foundation/Foundation.h>
#import "Ibkeykit.objc.h"

@interface AppSecretStore : NSObject <IbkeykitSecretStore>
@property (nonatomic, strong) NSMutableDictionary<NSString *, NSData *> *items;
@end

@implementation AppSecretStore
- (instancetype)init {
	if ((self = [super init])) {
		_items = [NSMutableDictionary dictionary];
	}
	return self;
}
- (NSData *)get:(NSString *)name error:(NSError **)error {
	@synchronized (self) {
		return self.items[name]; // nil: not found
	}
}
- (BOOL)set:(NSString *)name secret:(NSData *)secret error:(NSError **)error {
	@synchronized (self) {
		self.items[name] = [secret copy];
	}
	return YES;
}
- (BOOL)delete:(NSString *)name error:(NSError **)error {
	@synchronized (self) {
		[self.items removeObjectForKey:name];
	}
	return YES;
}
@end

@interface AppBiometrics : NSObject <IbkeykitBiometrics>
@end

@implementation AppBiometrics
- (NSData *)enroll:(NSString *)name error:(NSError **)error {
	if (error) {
		*error = [NSError errorWithDomain:@"app" code:1 userInfo:@{NSLocalizedDescriptionKey: IbkeykitCodeCancelled}];
	}
	return nil;
}
- (NSData *)authenticate:(NSString *)name reason:(NSString *)reason error:(NSError **)error {
	if (error) {
		*error = [NSError errorWithDomain:@"app" code:1 userInfo:@{NSLocalizedDescriptionKey: IbkeykitCodeCancelled}];
	}
	return nil;
}
- (BOOL)remove:(NSString *)name error:(NSError **)error {
	return YES;
}
@end

// AppRespond opens the vault in dir and answers challenge for user with
// pin; on failure it returns the error's code.
NSString *AppRespond(NSString *dir, NSString *user, NSString *challenge, NSString *pin) {
	NSError *error = nil;
	IbkeykitVault *vault = IbkeykitOpenVault(dir, [AppSecretStore new], [AppBiometrics new], &error);
	if (vault == nil) {
		return IbkeykitCode(error);
	}
	NSString *response = [vault respond:user challenge:challenge how:IbkeykitWithPIN(pin) error:&error];
	if (error != nil) {
		if ([IbkeykitCode(error) isEqualToString:IbkeykitCodeNoUser]) {
			return @"no such user";
		}
		return IbkeykitCode(error);
	}
	IbkeykitRequests *requests = [vault poll:user after:0 waitSeconds:25 error:&error];
	for (long i = 0; requests != nil && i < [requests len]; i++) {
		IbkeykitRequest *r = [requests get:i];
		[vault approve:r number:[r number:0] how:IbkeykitWithBiometric(@"Log in") error:&error];
	}
	IbkeykitOCRAInput *input = [[IbkeykitOCRAInput alloc] init];
	input.challenge = @"00000000";
	NSString *rfc = IbkeykitOCRA(@"OCRA-1:HOTP-SHA1-6:QN08", [@"12345678901234567890" dataUsingEncoding:NSUTF8StringEncoding], input, &error);
	return [NSString stringWithFormat:@"%@ %@", response, rfc];
}
