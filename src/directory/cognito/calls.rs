//! The directory's operations as Cognito API calls.

use super::*;

#[async_trait]
impl Directory for CognitoDirectory {
    fn kind(&self) -> &'static str {
        "cognito"
    }

    async fn create_user(&self, new: &NewIdentity) -> DirectoryResult<Identity> {
        self.create(new, None).await
    }

    async fn create_registered_user(
        &self,
        new: &NewIdentity,
        registration: &str,
    ) -> DirectoryResult<Identity> {
        let marked = match self.supports_registration_marker().await {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!("DescribeUserPool failed ({e}); creating without the marker");
                false
            }
        };
        self.create(new, marked.then_some(registration)).await
    }

    async fn supports_registration_marker(&self) -> DirectoryResult<bool> {
        if let Some(known) = self.marker.get() {
            return Ok(*known);
        }
        self.pace(Quota::Read).await;
        let out = self
            .client
            .describe_user_pool()
            .user_pool_id(&self.user_pool_id)
            .send()
            .await
            .map_err(|e| classify(&e))?;
        let name = marker_attribute();
        let has = out.user_pool().is_some_and(|p| {
            p.schema_attributes()
                .iter()
                .any(|a| a.name() == Some(name.as_str()))
        });
        if !has {
            tracing::warn!(
                "user pool {} has no {name} attribute: registrations cannot mark the identities \
                 they create, so an identity found after a lost answer is never adopted (see \
                 README, \"Proof of authorship\")",
                self.user_pool_id
            );
        }
        let _ = self.marker.set(has);
        Ok(has)
    }

    async fn get_user(&self, key: &UserKey) -> DirectoryResult<Identity> {
        match key {
            UserKey::Username(u) => self.get_by_username(u).await,
            UserKey::Email(e) => self.get_by_username(e.as_str()).await,
        }
    }

    async fn find_by_sub(&self, sub: UserSub) -> DirectoryResult<Identity> {
        // A canonical hyphenated UUID: cannot contain a quote or backslash.
        let filter = format!("sub = \"{}\"", sub.0.hyphenated());
        self.pace(Quota::List).await;
        let out = self
            .client
            .list_users()
            .user_pool_id(&self.user_pool_id)
            .filter(filter)
            .limit(1)
            .send()
            .await
            .map_err(|e| classify(&e))?;
        match out.users().first() {
            Some(u) => from_user(u),
            None => Err(DirectoryError::NotFound(format!("sub {}", sub.0))),
        }
    }

    async fn list_page(&self, cursor: Option<&str>) -> DirectoryResult<IdentityPage> {
        self.pace(Quota::List).await;
        let out = self
            .client
            .list_users()
            .user_pool_id(&self.user_pool_id)
            .limit(LIST_LIMIT)
            .set_pagination_token(cursor.map(str::to_string))
            .send()
            .await
            .map_err(|e| classify(&e))?;
        let identities = out
            .users()
            .iter()
            .map(from_user)
            .collect::<DirectoryResult<Vec<_>>>()?;
        Ok(IdentityPage {
            identities,
            next: out
                .pagination_token()
                .filter(|t| !t.is_empty())
                .map(str::to_string),
        })
    }

    async fn set_enabled(&self, username: &str, enabled: bool) -> DirectoryResult<()> {
        check_value("username", username)?;
        self.pace(Quota::Update).await;
        if enabled {
            self.client
                .admin_enable_user()
                .user_pool_id(&self.user_pool_id)
                .username(username)
                .send()
                .await
                .map_err(|e| classify(&e))?;
        } else {
            self.client
                .admin_disable_user()
                .user_pool_id(&self.user_pool_id)
                .username(username)
                .send()
                .await
                .map_err(|e| classify(&e))?;
        }
        Ok(())
    }

    async fn delete_user(&self, username: &str) -> DirectoryResult<()> {
        check_value("username", username)?;
        self.pace(Quota::Update).await;
        self.client
            .admin_delete_user()
            .user_pool_id(&self.user_pool_id)
            .username(username)
            .send()
            .await
            .map_err(|e| classify(&e))?;
        Ok(())
    }

    async fn resend_invite(&self, username: &str) -> DirectoryResult<()> {
        check_value("username", username)?;
        self.pace(Quota::Create).await;
        self.client
            .admin_create_user()
            .user_pool_id(&self.user_pool_id)
            .username(username)
            .message_action(MessageActionType::Resend)
            .desired_delivery_mediums(DeliveryMediumType::Email)
            .customize()
            .config_override(single_attempt())
            .send()
            .await
            .map_err(|e| match classify(&e) {
                DirectoryError::Unavailable(m) => DirectoryError::Unavailable(format!(
                    "{m}; the invitation may or may not have been sent (not retried: each \
                     attempt sends an email) — check with the user before resending"
                )),
                other => other,
            })?;
        Ok(())
    }

    async fn authenticate(&self, email: &Email, password: &Secret) -> DirectoryResult<AuthOutcome> {
        let username = email.as_str();
        check_value("email", username)?;
        let out = self
            .client
            .admin_initiate_auth()
            .user_pool_id(&self.user_pool_id)
            .client_id(&self.client_id)
            .auth_flow(AuthFlowType::AdminUserPasswordAuth)
            .auth_parameters("USERNAME", username)
            .auth_parameters("PASSWORD", password.expose())
            .send()
            .await
            .map_err(|e| classify(&e))?;
        self.outcome(
            username,
            out.challenge_name(),
            out.session(),
            out.challenge_parameters(),
        )
        .await
    }

    async fn respond_new_password(
        &self,
        challenge: &NewPasswordChallenge,
        new_password: &Secret,
    ) -> DirectoryResult<AuthOutcome> {
        self.respond(
            ChallengeNameType::NewPasswordRequired,
            &challenge.username,
            &challenge.session,
            &[("NEW_PASSWORD", new_password.expose())],
        )
        .await
    }

    async fn respond_mfa_code(
        &self,
        challenge: &MfaChallenge,
        code: &TotpCode,
    ) -> DirectoryResult<AuthOutcome> {
        self.respond(
            ChallengeNameType::SoftwareTokenMfa,
            &challenge.username,
            &challenge.session,
            &[("SOFTWARE_TOKEN_MFA_CODE", code.expose())],
        )
        .await
    }

    async fn associate_software_token(
        &self,
        challenge: &MfaChallenge,
    ) -> DirectoryResult<MfaEnrolment> {
        let out = self
            .client
            .associate_software_token()
            .session(challenge.session.expose())
            .customize()
            .config_override(single_attempt())
            .send()
            .await
            .map_err(|e| classify(&e))?;
        let secret = out.secret_code().ok_or_else(|| {
            DirectoryError::Rejected("AssociateSoftwareToken returned no secret".into())
        })?;
        let secret = TotpSecret::from_base32(secret).map_err(|e| {
            DirectoryError::Rejected(format!("AssociateSoftwareToken returned {e}"))
        })?;
        let session = out
            .session()
            .map(Secret::new)
            .unwrap_or_else(|| challenge.session.clone());
        Ok(MfaEnrolment {
            username: challenge.username.clone(),
            secret,
            session,
        })
    }

    async fn verify_software_token(
        &self,
        enrolment: &MfaEnrolment,
        code: &TotpCode,
    ) -> DirectoryResult<AuthOutcome> {
        check_value("username", &enrolment.username)?;
        let verified = self
            .client
            .verify_software_token()
            .session(enrolment.session.expose())
            .user_code(code.expose())
            .friendly_device_name("hubdeck")
            .send()
            .await
            .map_err(|e| classify(&e))?;
        if verified.status() != Some(&VerifySoftwareTokenResponseType::Success) {
            return Err(DirectoryError::NotAuthorized(WRONG_CODE.to_string()));
        }
        let session = verified
            .session()
            .map(Secret::new)
            .unwrap_or_else(|| enrolment.session.clone());
        let outcome = self
            .respond(
                ChallengeNameType::MfaSetup,
                &enrolment.username,
                &session,
                &[],
            )
            .await?;
        if matches!(outcome, AuthOutcome::Authenticated { .. }) {
            // Make the verified token the preferred MFA, so every later sign-in asks for it.
            self.pace(Quota::Update).await;
            if let Err(e) = self
                .client
                .admin_set_user_mfa_preference()
                .user_pool_id(&self.user_pool_id)
                .username(&enrolment.username)
                .software_token_mfa_settings(
                    SoftwareTokenMfaSettingsType::builder()
                        .enabled(true)
                        .preferred_mfa(true)
                        .build(),
                )
                .send()
                .await
            {
                tracing::warn!(
                    "could not make the software token the preferred MFA: {}",
                    classify(&e)
                );
            }
        }
        Ok(outcome)
    }

    async fn set_password(
        &self,
        username: &str,
        password: &Secret,
        permanent: bool,
    ) -> DirectoryResult<()> {
        check_value("username", username)?;
        self.pace(Quota::Update).await;
        self.client
            .admin_set_user_password()
            .user_pool_id(&self.user_pool_id)
            .username(username)
            .password(password.expose())
            .permanent(permanent)
            .send()
            .await
            .map_err(|e| classify(&e))?;
        Ok(())
    }

    async fn temporary_password_validity_days(&self) -> DirectoryResult<u32> {
        self.pace(Quota::Read).await;
        let out = self
            .client
            .describe_user_pool()
            .user_pool_id(&self.user_pool_id)
            .send()
            .await
            .map_err(|e| classify(&e))?;
        let days = out
            .user_pool()
            .and_then(|p| p.policies())
            .and_then(|p| p.password_policy())
            .map(|p| p.temporary_password_validity_days())
            .and_then(|d| u32::try_from(d).ok())
            .filter(|d| *d > 0);
        Ok(days.unwrap_or(crate::directory::DEFAULT_TEMPORARY_PASSWORD_DAYS))
    }

    async fn estimated_count(&self) -> DirectoryResult<Option<u64>> {
        self.pace(Quota::Read).await;
        let out = self
            .client
            .describe_user_pool()
            .user_pool_id(&self.user_pool_id)
            .send()
            .await
            .map_err(|e| classify(&e))?;
        Ok(out
            .user_pool()
            .and_then(|p| u64::try_from(p.estimated_number_of_users()).ok()))
    }

    async fn health(&self) -> DirectoryResult<()> {
        self.pace(Quota::Read).await;
        self.client
            .describe_user_pool()
            .user_pool_id(&self.user_pool_id)
            .send()
            .await
            .map_err(|e| classify(&e))?;
        Ok(())
    }
}
