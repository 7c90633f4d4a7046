//! The directory's operations on the local tables (identities, sign-in challenges, TOTP).

use super::*;

#[async_trait]
impl Directory for LocalDirectory {
    fn kind(&self) -> &'static str {
        "local"
    }

    async fn create_user(&self, new: &NewIdentity) -> DirectoryResult<Identity> {
        self.create(new, None).await
    }

    async fn create_registered_user(
        &self,
        new: &NewIdentity,
        registration: &str,
    ) -> DirectoryResult<Identity> {
        self.create(new, Some(registration)).await
    }

    async fn supports_registration_marker(&self) -> DirectoryResult<bool> {
        Ok(true)
    }

    async fn get_user(&self, key: &UserKey) -> DirectoryResult<Identity> {
        let k = match key {
            UserKey::Username(u) => u.as_str(),
            UserKey::Email(e) => e.as_str(),
        };
        store::find_by_username_or_email(&self.db, k)
            .await
            .map_err(store_err)?
            .map(identity)
            .ok_or_else(|| {
                DirectoryError::NotFound(crate::domain::DisplayText::new(k).into_string())
            })
    }
    async fn find_by_sub(&self, sub: UserSub) -> DirectoryResult<Identity> {
        store::find_by_sub(&self.db, sub)
            .await
            .map_err(store_err)?
            .map(identity)
            .ok_or_else(|| {
                DirectoryError::NotFound(format!("User with ID {sub} is not registered"))
            })
    }

    async fn list_page(&self, cursor: Option<&str>) -> DirectoryResult<IdentityPage> {
        let after = cursor.map(cursor_decode).transpose()?;
        let rows = store::list_after(&self.db, after, PAGE_SIZE)
            .await
            .map_err(store_err)?;
        let next = if rows.len() as i64 == PAGE_SIZE {
            rows.last().map(|r| cursor_encode(r.created_at, r.sub))
        } else {
            None
        };
        Ok(IdentityPage {
            identities: rows.into_iter().map(identity).collect(),
            next,
        })
    }

    async fn set_enabled(&self, username: &str, enabled: bool) -> DirectoryResult<()> {
        if store::set_enabled(&self.db, username, enabled)
            .await
            .map_err(store_err)?
        {
            Ok(())
        } else {
            Err(DirectoryError::NotFound(
                crate::domain::DisplayText::new(username).into_string(),
            ))
        }
    }

    async fn delete_user(&self, username: &str) -> DirectoryResult<()> {
        if store::delete(&self.db, username).await.map_err(store_err)? {
            Ok(())
        } else {
            Err(DirectoryError::NotFound(
                crate::domain::DisplayText::new(username).into_string(),
            ))
        }
    }

    async fn resend_invite(&self, username: &str) -> DirectoryResult<()> {
        let row = self.by_username(username).await?;
        if row.status != IdentityStatus::ForceChangePassword.as_str() {
            return Err(DirectoryError::Rejected(format!(
                "cannot resend the invitation: the account is {} (only accounts that have not signed in yet get one)",
                row.status
            )));
        }
        let hash = hash_blocking(temporary_password()).await?;
        store::resend_invitation(&self.db, row.sub, &row.email, &hash)
            .await
            .map_err(store_err)
    }

    async fn authenticate(&self, email: &Email, password: &Secret) -> DirectoryResult<AuthOutcome> {
        let refused = || DirectoryError::NotAuthorized("Incorrect username or password.".into());
        let row = store::find_by_username_or_email(&self.db, email.as_str())
            .await
            .map_err(store_err)?;
        let Some(row) = row else {
            // Spend comparable time so a missing account is not distinguishable by timing.
            let _ = hash_blocking(password.clone()).await;
            return Err(refused());
        };
        let Some(phc) = row.password_hash.clone() else {
            return Err(refused());
        };
        let pw = password.clone();
        let ok = tokio::task::spawn_blocking(move || verify_password(&pw, &phc))
            .await
            .map_err(|e| DirectoryError::Unavailable(e.to_string()))?;
        if !ok {
            return Err(refused());
        }
        if !row.enabled {
            return Err(DirectoryError::NotAuthorized("User is disabled.".into()));
        }
        if row.status == IdentityStatus::ForceChangePassword.as_str() {
            let mut bytes = [0u8; 32];
            rand::rng().fill(&mut bytes);
            let token = Secret::new(hex::encode(bytes));
            let expires = Utc::now() + chrono::Duration::minutes(CHALLENGE_MINUTES);
            store::insert_challenge(&self.db, &session_hash(token.expose()), row.sub, expires)
                .await
                .map_err(store_err)?;
            return Ok(AuthOutcome::NewPasswordRequired(NewPasswordChallenge {
                username: row.username,
                sub: Some(row.sub),
                session: token,
            }));
        }
        self.after_password(row.sub, row.username).await
    }

    async fn respond_new_password(
        &self,
        challenge: &NewPasswordChallenge,
        new_password: &Secret,
    ) -> DirectoryResult<AuthOutcome> {
        check_policy(new_password)?;
        let mut conn = self.db.acquire().await.map_err(store_err)?;
        let sub = local_totp::take_challenge(
            &mut conn,
            &session_hash(challenge.session.expose()),
            NEW_PASSWORD,
        )
        .await
        .map_err(store_err)?
        .ok_or_else(expired)?;
        drop(conn);
        let row = store::find_by_sub(&self.db, sub)
            .await
            .map_err(store_err)?
            .ok_or_else(|| DirectoryError::NotFound(sub.to_string()))?;
        if row.username != challenge.username {
            return Err(DirectoryError::NotAuthorized(
                "Invalid session for the user.".into(),
            ));
        }
        if !row.enabled {
            return Err(DirectoryError::NotAuthorized("User is disabled.".into()));
        }
        let hash = hash_blocking(new_password.clone()).await?;
        store::set_password(
            &self.db,
            &row.username,
            &hash,
            IdentityStatus::Confirmed.as_str(),
        )
        .await
        .map_err(store_err)?;
        self.after_password(sub, row.username).await
    }

    async fn respond_mfa_code(
        &self,
        challenge: &MfaChallenge,
        code: &TotpCode,
    ) -> DirectoryResult<AuthOutcome> {
        let sub = self
            .check_code(challenge, SOFTWARE_TOKEN_MFA, code, true)
            .await?;
        Ok(AuthOutcome::Authenticated { sub })
    }

    async fn associate_software_token(
        &self,
        challenge: &MfaChallenge,
    ) -> DirectoryResult<MfaEnrolment> {
        let hash = session_hash(challenge.session.expose());
        let mut tx = self.db.begin().await.map_err(store_err)?;
        let (sub, _) = local_totp::lock_challenge(&mut tx, &hash, MFA_SETUP)
            .await
            .map_err(store_err)?
            .ok_or_else(expired)?;
        tx.commit().await.map_err(|e| store_err(e.into()))?;
        self.check_challenged(sub, &challenge.username).await?;
        let secret = TotpSecret::generate();
        if !local_totp::begin_enrolment(&self.db, sub, &secret)
            .await
            .map_err(store_err)?
        {
            return Err(DirectoryError::Rejected(
                "a software token is already enrolled for this account".into(),
            ));
        }
        Ok(MfaEnrolment {
            username: challenge.username.clone(),
            secret,
            session: challenge.session.clone(),
        })
    }

    async fn verify_software_token(
        &self,
        enrolment: &MfaEnrolment,
        code: &TotpCode,
    ) -> DirectoryResult<AuthOutcome> {
        let challenge = MfaChallenge {
            username: enrolment.username.clone(),
            sub: None,
            session: enrolment.session.clone(),
        };
        let sub = self.check_code(&challenge, MFA_SETUP, code, false).await?;
        Ok(AuthOutcome::Authenticated { sub })
    }

    async fn set_password(
        &self,
        username: &str,
        password: &Secret,
        permanent: bool,
    ) -> DirectoryResult<()> {
        check_policy(password)?;
        let hash = hash_blocking(password.clone()).await?;
        let status = if permanent {
            IdentityStatus::Confirmed
        } else {
            IdentityStatus::ForceChangePassword
        };
        if store::set_password(&self.db, username, &hash, status.as_str())
            .await
            .map_err(store_err)?
        {
            Ok(())
        } else {
            Err(DirectoryError::NotFound(
                crate::domain::DisplayText::new(username).into_string(),
            ))
        }
    }

    async fn health(&self) -> DirectoryResult<()> {
        store::ping(&self.db).await.map_err(store_err)
    }

    async fn estimated_count(&self) -> DirectoryResult<Option<u64>> {
        let n = store::count(&self.db).await.map_err(store_err)?;
        Ok(u64::try_from(n).ok())
    }
}
